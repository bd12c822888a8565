/**
 * Express (5, and 4), connect and any `(request, response)` handler: `listen(app, { port })` serves the
 * application and Atmosphere on one server and one port — Atmosphere's paths and their WebSocket upgrades
 * first, every other request to the app. Nothing of Express is imported: the app is a request listener.
 *
 * ```ts
 * import express from 'express';
 * import { listen } from '@atmosphere/runtime/express';
 * const app = express();
 * const { atmosphere, close } = await listen(app, { port: 3000 });
 * atmosphere.managed('/chat/{room}', { onMessage: (message) => message });
 * ```
 *
 * With a server of the application's (`https.createServer(options, app)`), pass it to
 * `createAtmosphere({ server })` before it listens: the same thing, one call.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type ListeningApplication, type ListenOptions, listenAttached } from './listen.ts';

export type { ListeningApplication, ListenOptions } from './listen.ts';

/** What `express()` returns, seen as what it is to Node: a request listener. */
export type RequestHandlerApp = (request: IncomingMessage, response: ServerResponse) => unknown;

/**
 * Creates the `node:http` server of `app`, attaches Atmosphere to it (requests and upgrades), and listens on
 * `options.port`. Close with `close()` (Atmosphere first, then the server).
 */
export function listen(
  app: RequestHandlerApp,
  options: ListenOptions,
): Promise<ListeningApplication<Server>> {
  return listenAttached(createServer(app), options);
}
