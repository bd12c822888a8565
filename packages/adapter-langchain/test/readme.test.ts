import { readFileSync, writeFileSync } from 'node:fs';
import { expect, test } from 'vitest';
import { capabilityTable } from '../src/capabilities.ts';

const START = '<!-- capability-table:start -->';
const END = '<!-- capability-table:end -->';

test('the README capability table is the one generated from the code', () => {
  const url = new URL('../README.md', import.meta.url);
  const readme = readFileSync(url, 'utf8');
  const from = readme.indexOf(START);
  const to = readme.indexOf(END);
  expect(from, 'the README has the capability-table markers').toBeGreaterThan(0);
  expect(to).toBeGreaterThan(from);
  const generated = `${START}\n${capabilityTable()}\n${END}`;
  const current = readme.slice(from, to + END.length);
  if (process.env['ATMOSPHERE_UPDATE_DOCS'] === '1' && current !== generated)
    writeFileSync(url, readme.slice(0, from) + generated + readme.slice(to + END.length));
  else expect(current, 'regenerate with ATMOSPHERE_UPDATE_DOCS=1').toBe(generated);
});
