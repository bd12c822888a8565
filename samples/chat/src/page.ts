import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

const WEB = fileURLToPath(new URL('../web/', import.meta.url));

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/** The built page: file name → contents. Only these names are ever served. */
export type PageFiles = ReadonlyMap<string, { body: Buffer; type: string }>;

/**
 * Bundles the browser pages (web/: the chat, web/ask/: the one-to-one assistant, and web/admin/: the operator's
 * dashboard; TypeScript using
 * @atmosphere/client) with Vite, in memory (nothing is written to disk), and returns their files. Takes about a second; runs once at startup.
 */
export async function buildPage(): Promise<PageFiles> {
  const output = await build({
    configFile: false,
    root: WEB,
    logLevel: 'warn',
    resolve: { conditions: ['@atmosphere/source', 'browser', 'import', 'default'] },
    build: {
      write: false,
      sourcemap: false,
      reportCompressedSize: false,
      assetsDir: 'assets',
      // Three pages: the chat, the one-to-one assistant (with paint timing), and the operator's dashboard (its
      // data comes over an authenticated feed).
      rollupOptions: {
        input: { chat: `${WEB}index.html`, ask: `${WEB}ask/index.html`, admin: `${WEB}admin/index.html` },
      },
    },
  });
  const results = Array.isArray(output) ? output : [output];
  const files = new Map<string, { body: Buffer; type: string }>();
  for (const result of results) {
    if (!('output' in result)) continue;
    for (const chunk of result.output) {
      const extension = chunk.fileName.slice(chunk.fileName.lastIndexOf('.'));
      files.set(`/${chunk.fileName}`, {
        body: Buffer.from(chunk.type === 'chunk' ? chunk.code : chunk.source),
        type: TYPES[extension] ?? 'application/octet-stream',
      });
    }
  }
  const index = files.get('/index.html');
  if (!index) throw new Error('The page build produced no index.html');
  files.set('/', index);
  const ask = files.get('/ask/index.html');
  if (!ask) throw new Error('The page build produced no ask/index.html');
  files.set('/ask/', ask);
  const admin = files.get('/admin/index.html');
  if (!admin) throw new Error('The page build produced no admin/index.html');
  files.set('/admin/', admin);
  return files;
}

/** Serves a built file; false when `path` is not one. */
export function servePage(files: PageFiles, request: IncomingMessage, response: ServerResponse): boolean {
  const path = (request.url ?? '/').split('?')[0] ?? '/';
  const file = files.get(path);
  if (!file || (request.method !== 'GET' && request.method !== 'HEAD')) return false;
  response.writeHead(200, {
    'Content-Type': file.type,
    'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : file.body);
  return true;
}
