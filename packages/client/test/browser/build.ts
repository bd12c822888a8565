import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const PAGES = resolve(dirname(fileURLToPath(import.meta.url)), 'pages');

/**
 * The pages a test can build: the plain harness. (The React, Vue and Svelte pages are the frameworks sample's,
 * tested in Chromium against its server: samples/frameworks/test/browser.test.ts.)
 */
export type PageName = 'harness';

/** Builds pages with Vite 8 (its JS API) into a fresh temporary directory and returns it: `<name>.html` plus assets. */
export async function buildPages(pages: readonly PageName[]): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'atmosphere-client-pages-'));
  await build({
    configFile: false,
    root: PAGES,
    logLevel: 'warn',
    // Workspace packages (the protocol) resolve to their TypeScript sources, as the pages' own imports do.
    resolve: { conditions: ['@atmosphere/source', 'browser', 'import', 'default'] },
    build: {
      outDir,
      emptyOutDir: true,
      minify: false,
      sourcemap: false,
      reportCompressedSize: false,
      rolldownOptions: {
        input: Object.fromEntries(pages.map((page) => [page, join(PAGES, `${page}.html`)])),
      },
    },
  });
  return outDir;
}
