import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import react from '@vitejs/plugin-react';
import vue from '@vitejs/plugin-vue';
import { build, defaultClientConditions } from 'vite';

const WEB = fileURLToPath(new URL('../web/', import.meta.url));

/** The pages, by their HTML entry under web/: the index and one page per framework. */
const ENTRIES = ['index', 'react/index', 'vue/index', 'svelte/index'] as const;

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

/** A built file. */
export interface PageFile {
  readonly body: Buffer;
  readonly type: string;
}

/** The built pages: URL path → file. Only these paths are ever served. */
export type PageFiles = ReadonlyMap<string, PageFile>;

/**
 * Bundles web/ (the index, and the React, Vue and Svelte pages using `@atmosphere/client`) with Vite, in
 * memory: nothing is written to disk, so several servers may build at once. Each page is served at
 * `/<framework>/` (and `/<framework>`), the index at `/`. Takes a few seconds; runs once at startup.
 */
export async function buildPages(): Promise<PageFiles> {
  const output = await build({
    configFile: false,
    root: WEB,
    logLevel: 'warn',
    plugins: [react(), vue(), svelte({ configFile: false })],
    // Workspace packages resolve to their TypeScript sources (no build step in this repository).
    resolve: { conditions: ['@atmosphere/source', ...defaultClientConditions] },
    build: {
      write: false,
      sourcemap: false,
      reportCompressedSize: false,
      rolldownOptions: {
        input: Object.fromEntries(ENTRIES.map((entry) => [entry, `${WEB}${entry}.html`])),
      },
    },
  });
  const results = Array.isArray(output) ? output : [output];
  const files = new Map<string, PageFile>();
  for (const result of results) {
    if (!('output' in result)) continue;
    for (const file of result.output) {
      const extension = file.fileName.slice(file.fileName.lastIndexOf('.'));
      const body = file.type === 'chunk' ? file.code : file.source;
      files.set(`/${file.fileName}`, {
        body: Buffer.from(body),
        type: TYPES[extension] ?? 'application/octet-stream',
      });
    }
  }
  for (const entry of ENTRIES) {
    const page = files.get(`/${entry}.html`);
    if (!page) throw new Error(`The page build produced no ${entry}.html`);
    const path = entry === 'index' ? '/' : `/${entry.slice(0, entry.indexOf('/'))}`;
    files.set(path, page);
    if (path !== '/') files.set(`${path}/`, page);
  }
  return files;
}

/** Serves a built file (GET or HEAD); false when the request is not for one. */
export function servePage(files: PageFiles, request: IncomingMessage, response: ServerResponse): boolean {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const file = files.get(path);
  if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) return false;
  response.writeHead(200, {
    'Content-Type': file.type,
    'Content-Length': file.body.length,
    // Asset names carry a content hash; pages do not.
    'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : file.body);
  return true;
}
