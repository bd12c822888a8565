// Measures the client's core bundle: minified (Vite 8 / Rolldown, Oxc minifier) and gzipped (level 9).
//   node scripts/size.ts
// `measureCoreSize()` is also what test/size.test.ts holds to the budget.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build, type Rolldown } from 'vite';

const SRC = resolve(dirname(fileURLToPath(import.meta.url)), '../src');

/** Bytes of one bundle. */
export interface BundleSize {
  readonly minified: number;
  readonly gzipped: number;
}

/** What the README states and the size test checks. */
export interface CoreSize {
  /** The whole core entry (`@atmosphere/client`: subscribe, transports, AI streaming, rooms, models). */
  readonly entry: BundleSize;
  /** An application that imports only `subscribe` (what tree shaking leaves). */
  readonly subscribeOnly: BundleSize;
}

async function bundle(entry: string): Promise<BundleSize> {
  const result = await build({
    configFile: false,
    logLevel: 'silent',
    resolve: { conditions: ['@atmosphere/source'] },
    build: {
      write: false,
      minify: true,
      target: 'es2022',
      lib: { entry, formats: ['es'], fileName: 'core' },
      rolldownOptions: { treeshake: true },
    },
  });
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[];
  let code = '';
  for (const output of outputs)
    for (const chunk of output.output) if (chunk.type === 'chunk') code += chunk.code;
  const bytes = Buffer.from(code, 'utf8');
  return { minified: bytes.length, gzipped: gzipSync(bytes, { level: 9 }).length };
}

/** Builds the core entry, and an app importing only `subscribe`, and measures both. */
export async function measureCoreSize(): Promise<CoreSize> {
  const dir = await mkdtemp(join(tmpdir(), 'atmosphere-client-size-'));
  try {
    const app = join(dir, 'app.js');
    await writeFile(app, `export { subscribe } from ${JSON.stringify(join(SRC, 'index.ts'))};\n`);
    return { entry: await bundle(join(SRC, 'index.ts')), subscribeOnly: await bundle(app) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const size = await measureCoreSize();
  const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} kB`;
  process.stdout.write(
    `core entry:     ${kb(size.entry.minified)} minified, ${kb(size.entry.gzipped)} gzipped\n` +
      `subscribe only: ${kb(size.subscribeOnly.minified)} minified, ${kb(size.subscribeOnly.gzipped)} gzipped\n`,
  );
}
