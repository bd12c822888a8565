import type { IncomingMessage, ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { build, defaultClientConditions } from 'vite';

const WEB = fileURLToPath(new URL('../web/', import.meta.url));
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

/** The built page: URL path → file. Only these paths are ever served. */
export type PageFiles = ReadonlyMap<string, PageFile>;

/** Bundles web/ (the React page with useChat) with Vite, in memory; served at `/`. Runs once at startup. */
export async function buildPages(): Promise<PageFiles> {
  // Under a test runner NODE_ENV is `test`, which would make the React plugin emit development JSX.
  const nodeEnv = process.env['NODE_ENV'];
  process.env['NODE_ENV'] = 'production';
  let output: Awaited<ReturnType<typeof build>>;
  try {
    output = await build({
      configFile: false,
      root: WEB,
      logLevel: 'warn',
      mode: 'production',
      plugins: [react()],
      // Workspace packages resolve to their TypeScript sources (no build step in this repository).
      resolve: { conditions: ['@atmosphere/source', ...defaultClientConditions] },
      build: {
        write: false,
        sourcemap: false,
        reportCompressedSize: false,
        rolldownOptions: { input: { index: `${WEB}index.html` } },
      },
    });
  } finally {
    process.env['NODE_ENV'] = nodeEnv;
  }
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
  const page = files.get('/index.html');
  if (!page) throw new Error('The page build produced no index.html');
  files.set('/', page);
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
    'Cache-Control': path.startsWith('/assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
    'X-Content-Type-Options': 'nosniff',
  });
  response.end(request.method === 'HEAD' ? undefined : file.body);
  return true;
}
