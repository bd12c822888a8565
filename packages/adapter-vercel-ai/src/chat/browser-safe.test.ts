import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const CHAT = dirname(fileURLToPath(import.meta.url));

test('the /chat entry is browser-safe: no node: module, no server package, only types from ai', async () => {
  const files = (await readdir(CHAT)).filter((file) => file.endsWith('.ts') && !file.endsWith('.test.ts'));
  expect(files.length).toBeGreaterThanOrEqual(3);
  for (const file of files) {
    const source = await readFile(join(CHAT, file), 'utf8');
    const imports = [...source.matchAll(/^import\s+(type\s+)?[^;]*?from\s+'([^']+)'/gms)].map((m) => ({
      typeOnly: m[1] !== undefined,
      from: m[2]!,
    }));
    for (const { typeOnly, from } of imports) {
      expect(from, `${file} imports ${from}`).not.toMatch(/^node:|^@atmosphere\/(runtime|ai)\b/);
      if (from === 'ai') expect(typeOnly, `${file} imports values from ai`).toBe(true);
    }
  }
});
