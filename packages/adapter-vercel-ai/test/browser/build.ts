import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import vue from '@vitejs/plugin-vue';
import { build } from 'vite';

const PAGES = resolve(dirname(fileURLToPath(import.meta.url)), 'pages');

/** Builds the React and Vue chat pages with Vite into a fresh directory, served under `/static/`. */
export async function buildPages(): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'atmosphere-ai-sdk-pages-'));
  // The test runner sets NODE_ENV=test, which would make the React plugin emit development JSX.
  const nodeEnv = process.env['NODE_ENV'];
  process.env['NODE_ENV'] = 'production';
  try {
    await buildWith(outDir);
  } finally {
    process.env['NODE_ENV'] = nodeEnv;
  }
  return outDir;
}

async function buildWith(outDir: string): Promise<void> {
  await build({
    configFile: false,
    root: PAGES,
    base: '/static/',
    mode: 'production',
    logLevel: 'warn',
    plugins: [react(), vue()],
    resolve: { conditions: ['@atmosphere/source', 'browser', 'import', 'default'] },
    define: { 'process.env.NODE_ENV': '"production"' },
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      sourcemap: false,
      reportCompressedSize: false,
      rolldownOptions: {
        input: { 'react-chat': join(PAGES, 'react-chat.html'), 'vue-chat': join(PAGES, 'vue-chat.html') },
      },
    },
  });
}
