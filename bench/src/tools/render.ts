/**
 * Renders results/latest.md again from results/latest.json (after a change to the report's layout), and
 * with `--update-docs` the results section of docs/performance.md.
 *
 *   node src/tools/render.ts [--update-docs] [--out=dir]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { updateDocs } from '../lib/docs.ts';
import { type BenchResults, renderMarkdown } from '../lib/report.ts';

const benchDir = join(import.meta.dirname, '../..');
const args = process.argv.slice(2);
const outDir = args.find((a) => a.startsWith('--out='))?.slice(6) ?? join(benchDir, 'results');
const results = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
const markdown = renderMarkdown(results);
await writeFile(join(outDir, 'latest.md'), markdown);
if (args.includes('--update-docs'))
  await updateDocs(join(benchDir, '..', 'docs', 'performance.md'), markdown);
process.stdout.write(`rendered ${join(outDir, 'latest.md')}\n`);
