/**
 * Hono on `@hono/node-server`: `listen(app, { port })` serves the Hono app and Atmosphere on one server —
 * Atmosphere's paths and their WebSocket upgrades first, everything else to `app.fetch` (Hono's own
 * `upgradeWebSocket` routes keep working beside them).
 *
 * ```ts
 * import { Hono } from 'hono';
 * import { listen } from '@atmosphere/runtime/hono';
 * const app = new Hono().get('/api/hello', (c) => c.json({ hello: 'hono' }));
 * const { atmosphere } = await listen(app, { port: 3000 });
 * ```
 *
 * `hono` and `@hono/node-server` are optional peer dependencies of `@atmosphere/runtime`, needed for this entry
 * only. A server made with `serve()`/`createAdaptorServer()` yourself attaches with `createAtmosphere({ server })`.
 */
import type { Http2SecureServer } from 'node:http2';
import { createAdaptorServer, type ServerType } from '@hono/node-server';
import { type ListeningApplication, type ListenOptions, listenAttached } from './listen.ts';

export type { ListeningApplication, ListenOptions } from './listen.ts';

/** A Hono app, or anything with its `fetch(request, env)`. */
export interface FetchApp {
  fetch: (request: Request, env: never) => unknown;
}

/** Options of {@link listen}: Atmosphere's and the application's port, and `@hono/node-server`'s. */
export interface HonoListenOptions extends ListenOptions {
  /**
   * Passed to `createAdaptorServer` (`createServer: https.createServer` with `serverOptions: { key, cert }`,
   * `overrideGlobalObjects`, …); `fetch`, `port` and `hostname` come from `listen()`.
   */
  nodeServer?: Omit<Parameters<typeof createAdaptorServer>[0], 'fetch' | 'port' | 'hostname'>;
}

/**
 * Creates the Node server of `app` with `@hono/node-server`, attaches Atmosphere to it (requests and
 * upgrades) and listens on `options.port`. Close with `close()` (Atmosphere first, then the server).
 */
export function listen(app: FetchApp, options: HonoListenOptions): Promise<ListeningApplication<ServerType>> {
  const { nodeServer, ...rest } = options;
  const server = createAdaptorServer({
    ...nodeServer,
    fetch: app.fetch as Parameters<typeof createAdaptorServer>[0]['fetch'],
  } as Parameters<typeof createAdaptorServer>[0]);
  // A cleartext HTTP/2 server (`createServer: http2.createServer`) has no HTTP/1.1 and so no WebSocket; its
  // HTTP transports are served as on the others.
  return listenAttached(server as Http2SecureServer, rest);
}
