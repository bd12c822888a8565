import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

/** A fresh folder under the system temp dir, removed after the file's tests. */
export function tempFolder(label: string): string {
  const folder = mkdtempSync(join(tmpdir(), `atmosphere-${label}-`));
  afterAll(() => rmSync(folder, { recursive: true, force: true }));
  return folder;
}

let fileCounter = 0;
/** A new file name in `folder`. */
export function newFile(folder: string, label = 'db'): string {
  return join(folder, `${label}-${++fileCounter}.sqlite`);
}
