import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type PluginOption } from 'vite';

const PAGES = resolve(dirname(fileURLToPath(import.meta.url)), 'pages');

/** The pages a test can build: the plain harness, and one page per framework binding. */
export type PageName = 'harness' | 'react' | 'vue' | 'svelte';

/**
 * Builds pages with Vite 8 (its JS API) into a fresh temporary directory and returns it: `<name>.html`
 * plus assets. Only the framework plugins the pages need are loaded.
 */
export async function buildPages(pages: readonly PageName[]): Promise<string> {
  const outDir = await mkdtemp(join(tmpdir(), 'atmosphere-client-pages-'));
  const plugins: PluginOption[] = [];
  if (pages.includes('react')) plugins.push((await import('@vitejs/plugin-react')).default());
  if (pages.includes('vue')) plugins.push((await import('@vitejs/plugin-vue')).default());
  if (pages.includes('svelte')) plugins.push((await import('@sveltejs/vite-plugin-svelte')).svelte());
  await build({
    configFile: false,
    root: PAGES,
    logLevel: 'warn',
    plugins,
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
