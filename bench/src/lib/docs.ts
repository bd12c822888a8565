import { readFile, writeFile } from 'node:fs/promises';

const START = '<!-- results:start -->';
const END = '<!-- results:end -->';

/**
 * Replaces the results section of docs/performance.md (between its `results:start` and `results:end`
 * markers) with a run's markdown: its title dropped (the page has its own heading) and every other heading
 * one level down, so the results sit under the page's "Latest results" section.
 */
export async function updateDocs(file: string, markdown: string): Promise<void> {
  const text = await readFile(file, 'utf8');
  const start = text.indexOf(START);
  const end = text.indexOf(END);
  if (start === -1 || end === -1) throw new Error(`${file} has no ${START} … ${END} markers`);
  const section = markdown.replace(/^# .*\n+/, '').replace(/^(#+) /gm, '#$1 ');
  await writeFile(
    file,
    `${text.slice(0, start + START.length)}\n\n${section.trimEnd()}\n\n${text.slice(end)}`,
  );
}
