import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

const PAGES = resolve(dirname(fileURLToPath(import.meta.url)), 'pages');

/** The built paint page: its HTML and its one script, to serve at `/paint` and `/paint.js`. */
export interface PaintPage {
  readonly html: string;
  readonly script: string;
}

/** Builds the React page that streams an AI answer with paint timing on (Vite, production React). */
export async function buildPaintPage(): Promise<PaintPage> {
  const outDir = await mkdtemp(join(tmpdir(), 'atmosphere-paint-page-'));
  // The test runner sets NODE_ENV=test, which would make the React plugin emit development JSX.
  const nodeEnv = process.env['NODE_ENV'];
  process.env['NODE_ENV'] = 'production';
  try {
    await build({
      configFile: false,
      root: PAGES,
      base: '/',
      mode: 'production',
      logLevel: 'warn',
      plugins: [react()],
      resolve: { conditions: ['@atmosphere/source', 'browser', 'import', 'default'] },
      define: { 'process.env.NODE_ENV': '"production"' },
      build: {
        outDir,
        emptyOutDir: true,
        minify: false,
        sourcemap: false,
        reportCompressedSize: false,
        rolldownOptions: {
          input: { paint: join(PAGES, 'paint.html') },
          output: { codeSplitting: false },
        },
      },
    });
  } finally {
    process.env['NODE_ENV'] = nodeEnv;
  }
  const scripts = (await readdir(join(outDir, 'assets'))).filter((file) => file.endsWith('.js'));
  if (scripts.length !== 1) throw new Error(`expected one script, got ${scripts.join(', ')}`);
  const html = (await readFile(join(outDir, 'paint.html'), 'utf8')).replace(
    /src="[^"]*\.js"/,
    'src="/paint.js"',
  );
  return { html, script: await readFile(join(outDir, 'assets', scripts[0]!), 'utf8') };
}
