import type { ServerResponse } from 'node:http';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import type { Atmosphere } from '@atmosphere/runtime';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const FILE = /^[A-Za-z0-9._-]+$/;

/** Serves the built pages under `/static/` on the Atmosphere server itself (same origin as the endpoints). */
export function serveStatic(atmosphere: Atmosphere, root: string): void {
  const serve = (path: string) => async (_request: unknown, response: ServerResponse) => {
    try {
      const body = await readFile(join(root, path));
      response.writeHead(200, { 'Content-Type': TYPES[extname(path)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404);
      response.end();
    }
  };
  atmosphere.handle('/static/{file}', {
    request: (request, response, params) =>
      FILE.test(params['file'] ?? '')
        ? serve(params['file']!)(request, response)
        : serve('-')(request, response),
  });
  atmosphere.handle('/static/assets/{file}', {
    request: (request, response, params) =>
      FILE.test(params['file'] ?? '')
        ? serve(`assets/${params['file']}`)(request, response)
        : serve('-')(request, response),
  });
}
