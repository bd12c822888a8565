import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import react from '@vitejs/plugin-react';
import { build } from 'vite';

const PAGES = resolve(dirname(fileURLToPath(import.meta.url)), 'pages');

/** The built paint page: its HTML and its one script, to serve at `/paint` and `/paint.js`. */
export interface PaintPage {
  readonly html: string;
  readonly script: string;
}

/**
 * The framework a paint page renders with: the same page on each binding of `@atmosphere/client`; `*-room`
 * is a page in a room with an AI member (`useRoom`, `createRoomStore`).
 */
export type PaintFramework = 'react' | 'vue' | 'svelte' | 'react-room' | 'vue-room' | 'svelte-room';

const ENTRIES: Readonly<Record<PaintFramework, string>> = {
  react: 'paint.tsx',
  vue: 'paint-vue.ts',
  svelte: 'paint-svelte.ts',
  'react-room': 'paint-room.tsx',
  'vue-room': 'paint-room-vue.ts',
  'svelte-room': 'paint-room-svelte.ts',
};

/** The page every framework's script renders into (`#root`), served with the built script at `/paint.js`. */
const PAGE_HTML = `<!doctype html>
<html>
  <head>
    <meta charset="utf-8" />
    <title>loading</title>
  </head>
  <body>
    <div id="root"></div>
    <script type="module" src="/paint.js"></script>
  </body>
</html>
`;

/**
 * Builds the page that streams an AI answer with paint timing on, on the React, Vue or Svelte binding (Vite,
 * production builds of each framework).
 */
export async function buildPaintPage(framework: PaintFramework = 'react'): Promise<PaintPage> {
  const entry = ENTRIES[framework];
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
      plugins:
        framework === 'react' || framework === 'react-room'
          ? [react()]
          : framework === 'svelte' || framework === 'svelte-room'
            ? [svelte({ configFile: false })]
            : [],
      resolve: { conditions: ['@atmosphere/source', 'browser', 'import', 'default'] },
      define: {
        'process.env.NODE_ENV': '"production"',
        // Vue's compile-time flags (its esm-bundler build asks for them).
        __VUE_OPTIONS_API__: 'true',
        __VUE_PROD_DEVTOOLS__: 'false',
        __VUE_PROD_HYDRATION_MISMATCH_DETAILS__: 'false',
      },
      build: {
        outDir,
        emptyOutDir: true,
        minify: false,
        sourcemap: false,
        reportCompressedSize: false,
        rolldownOptions: {
          input: { paint: join(PAGES, entry) },
          output: { codeSplitting: false },
        },
      },
    });
  } finally {
    process.env['NODE_ENV'] = nodeEnv;
  }
  const scripts = (await readdir(join(outDir, 'assets'))).filter((file) => file.endsWith('.js'));
  if (scripts.length !== 1) throw new Error(`expected one script, got ${scripts.join(', ')}`);
  return { html: PAGE_HTML, script: await readFile(join(outDir, 'assets', scripts[0]!), 'utf8') };
}
