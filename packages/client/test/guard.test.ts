import { readdir, readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

async function sources(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await sources(path)));
    else if (/\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name)) files.push(path);
  }
  return files;
}

/** Every module specifier of a file: static imports/exports, dynamic imports, require calls. */
function specifiers(code: string): string[] {
  const found: string[] = [];
  const patterns = [
    /\bfrom\s*['"]([^'"]+)['"]/g,
    /\bimport\s*['"]([^'"]+)['"]/g,
    /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
    /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g,
  ];
  for (const pattern of patterns) for (const match of code.matchAll(pattern)) found.push(match[1]!);
  return found;
}

const BUILTINS = new Set(builtinModules);

test('the browser entry points import nothing from node: (nor a bare Node built-in, nor a server package)', async () => {
  const files = await sources(SRC);
  expect(files.length).toBeGreaterThan(20);
  const offences: string[] = [];
  for (const file of files) {
    for (const specifier of specifiers(await readFile(file, 'utf8'))) {
      if (
        specifier.startsWith('node:') ||
        BUILTINS.has(specifier) ||
        BUILTINS.has(specifier.split('/')[0]!)
      ) {
        offences.push(`${relative(SRC, file)} imports ${specifier}`);
      }
      // The protocol is the one package the client shares with the server: a leaf, browser-safe (checked below).
      if (specifier.startsWith('@atmosphere/') && specifier !== '@atmosphere/protocol')
        offences.push(`${relative(SRC, file)} imports the server package ${specifier}`);
    }
  }
  expect(offences).toEqual([]);
});

test('the guard itself sees node: imports', () => {
  expect(
    specifiers(`import { x } from 'node:fs';\nexport * from "node:path";\nawait import('node:http');`),
  ).toEqual(['node:fs', 'node:path', 'node:http']);
});

test('the protocol the client imports is a leaf: no node:, no built-in, no other package at all', async () => {
  const protocol = resolve(SRC, '../../protocol/src');
  const files = await sources(protocol);
  expect(files.length).toBeGreaterThan(8);
  const offences: string[] = [];
  // Module specifiers of import and export statements (the protocol builds JSON text with `"from":` in it).
  const statement =
    /^(?:import|export)\b[^\n]*?\sfrom\s*['"]([^'"]+)['"]|^\}\s*from\s*['"]([^'"]+)['"]|\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/gm;
  for (const file of files) {
    for (const match of (await readFile(file, 'utf8')).matchAll(statement)) {
      const specifier = match[1] ?? match[2] ?? match[3]!;
      if (!specifier.startsWith('./')) offences.push(`${relative(protocol, file)} imports ${specifier}`);
    }
  }
  expect(offences).toEqual([]);
});
