/**
 * Next.js (App Router, 15 and 16), two ways; nothing of Next is imported.
 *
 * **A custom server** — every transport, WebSocket included. `listen(app, { port })` prepares the Next app,
 * serves it and Atmosphere on one `node:http` server and routes upgrades by path: Atmosphere's paths to
 * Atmosphere, every other upgrade (the dev server's hot reload) to Next.
 *
 * ```ts
 * import next from 'next';
 * import { listen } from '@atmosphere/runtime/next';
 * const app = next({ dev: process.env.NODE_ENV !== 'production' });
 * const { atmosphere } = await listen(app, { port: 3000 });
 * atmosphere.managed('/atmosphere/chat', { onMessage: (message) => message });
 * ```
 *
 * **Route handlers** — SSE, streaming and long-polling (and the POSTs of their messages) from
 * `app/…/route.ts`, for `next start` without a custom server. A route handler never sees a WebSocket upgrade,
 * so clients use `transport: 'sse'` with `fallbackTransport: 'long-polling'`.
 *
 * ```ts
 * // app/atmosphere/[...path]/route.ts
 * import { routeAtmosphere, routeHandlers } from '@atmosphere/runtime/next';
 * export const dynamic = 'force-dynamic';
 * export const { GET, POST, DELETE, OPTIONS } = routeHandlers(() =>
 *   routeAtmosphere('chat', async (atmosphere) => {
 *     atmosphere.managed('/atmosphere/chat', { onMessage: (message) => message });
 *   }),
 * );
 * ```
 *
 * State lives in the process: the connections, the broadcasters and the replay cache of a path are those of
 * the Node process serving the request. That holds for `next start` and a custom server (long-running
 * processes). Several instances behind a load balancer, or a serverless platform whose requests land on any
 * instance, need a backplane (`@atmosphere/redis`) for broadcasts and a durable stream log and session store
 * (`@atmosphere/durable-sessions`) so that a long-poll or a reconnect reaching another instance resumes; a
 * platform that freezes the process between requests cannot hold an SSE stream open at all.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import { duplexPair, Readable, type Duplex } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { Atmosphere } from '../atmosphere.ts';
import { createAtmosphere } from '../create.ts';
import type { AtmosphereOptions } from '../options.ts';
import { type ListeningApplication, type ListenOptions, listenAttached } from './listen.ts';

export type { ListeningApplication, ListenOptions } from './listen.ts';

/** What `next({ … })` returns, as far as a custom server uses it. */
export interface NextApp {
  prepare(): Promise<void>;
  getRequestHandler(): (request: IncomingMessage, response: ServerResponse) => Promise<void>;
}

type UpgradeHandler = (request: IncomingMessage, socket: Duplex, head: Buffer) => Promise<void>;

/**
 * Prepares `app`, creates the `node:http` server serving it, attaches Atmosphere (its paths and their
 * WebSocket upgrades first) and listens on `options.port`. Upgrades that are not Atmosphere's go to Next's
 * (hot reload in dev): Next gets them through this routing, not through an `upgrade` listener of its own, so
 * an Atmosphere WebSocket is never also seen (and ended) by Next. Close with `close()` (Atmosphere first,
 * then the server); the Next app itself is the caller's (`app.close()` where Next has it).
 */
export async function listen(app: NextApp, options: ListenOptions): Promise<ListeningApplication<Server>> {
  await app.prepare();
  const handle = app.getRequestHandler();
  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      if (!response.headersSent) {
        response.statusCode = 500;
        response.end('Internal Server Error');
      } else response.destroy(error as Error);
    });
  });
  // Next's custom server adds an `upgrade` listener of its own to the server of its first request (the dev
  // server's hot reload), which would see Atmosphere's upgrades too and end those on a path Next also serves.
  // Its router's upgrade handler is routed to instead, for the upgrades that are not Atmosphere's.
  const custom = app as NextApp & { upgradeHandler?: UpgradeHandler; didWebSocketSetup?: boolean };
  const upgrade = custom.upgradeHandler;
  if (typeof upgrade === 'function') {
    custom.didWebSocketSetup = true;
    // Wrapped by Atmosphere when it attaches: called for the upgrades Atmosphere does not serve.
    server.on('upgrade', (request: IncomingMessage, socket: Duplex, head: Buffer) => {
      upgrade(request, socket, head).catch(() => socket.destroy());
    });
  }
  return listenAttached(server, options);
}

const INSTANCES = Symbol.for('@atmosphere/runtime/next#instances');

type Instances = Map<string, Promise<Atmosphere>>;

/**
 * The Atmosphere of route handlers named `name`: created once per process (on the first call) with
 * `setup` run on it, then the same one for every route module and every request. Next compiles route modules
 * separately and, in dev, again on every change; the instance is kept on `globalThis` so all of them share its
 * connections and broadcasters. It attaches to a server that never listens: route handlers hand it their
 * requests ({@link routeHandlers}). A failed start is not kept: the next request tries again.
 */
export function routeAtmosphere(
  name: string,
  setup?: (atmosphere: Atmosphere) => void | Promise<void>,
  options: Omit<AtmosphereOptions, 'server' | 'port' | 'host'> = {},
): Promise<Atmosphere> {
  const global = globalThis as { [INSTANCES]?: Instances };
  const instances = (global[INSTANCES] ??= new Map());
  let instance = instances.get(name);
  if (instance === undefined) {
    instance = (async () => {
      const atmosphere = await createAtmosphere({ ...options, server: createServer() });
      try {
        await setup?.(atmosphere);
      } catch (error) {
        await atmosphere.close({ timeoutMs: 0 });
        throw error;
      }
      return atmosphere;
    })();
    instances.set(name, instance);
    instance.catch(() => {
      if (instances.get(name) === instance) instances.delete(name);
    });
  }
  return instance;
}

/** A route handler: a Web `Request` in, a (streaming) `Response` out. */
export type RouteHandler = (request: Request) => Promise<Response>;

/** What {@link routeHandlers} returns: one handler per method, to export from a `route.ts`. */
export interface RouteHandlers {
  GET: RouteHandler;
  POST: RouteHandler;
  PUT: RouteHandler;
  DELETE: RouteHandler;
  OPTIONS: RouteHandler;
}

/**
 * Route handlers serving Atmosphere's HTTP transports: SSE, streaming and long-polling, the POSTs of their
 * messages, CORS preflights. Each request is handed to Atmosphere's own HTTP serving over an in-process
 * connection (no port): it is served exactly as on an attached server — same handshake, same replay, same
 * errors — and the answer comes back as a streaming `Response` whose body ends when Atmosphere ends it.
 * The client going away (the request's `signal`, or the body cancelled) closes the connection, which
 * Atmosphere sees as it sees a closed socket.
 *
 * `atmosphere` is an instance (attached to a custom server, or from {@link routeAtmosphere}) or a function
 * returning one, called per request. A path that is not Atmosphere's is answered 404.
 */
export function routeHandlers(
  atmosphere: Atmosphere | (() => Atmosphere | Promise<Atmosphere>),
): RouteHandlers {
  const handler: RouteHandler = async (request) => {
    const instance = typeof atmosphere === 'function' ? await atmosphere() : atmosphere;
    return serveRequest(instance.server as Server, request);
  };
  return { GET: handler, POST: handler, PUT: handler, DELETE: handler, OPTIONS: handler };
}

/** Headers of one hop, not forwarded in either direction. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

/** Sends `request` to `server` over an in-process connection and returns its answer as a `Response`. */
function serveRequest(server: Server, request: Request): Promise<Response> {
  const url = new URL(request.url);
  if (request.headers.get('upgrade')?.toLowerCase() === 'websocket') {
    return Promise.resolve(
      new Response(
        'WebSocket is not served from a route handler: use a custom server (listen() of @atmosphere/runtime/next), or the sse or long-polling transport.',
        { status: 426, headers: { 'content-type': 'text/plain; charset=utf-8' } },
      ),
    );
  }
  const headers: IncomingHttpHeaders = {};
  for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name)) headers[name] = value;
  headers.host ??= url.host;
  headers.connection = 'close';
  const [serverSide, clientSide] = duplexPair();
  // What the origin check reads for the scheme of a same-origin request.
  if (url.protocol === 'https:') (serverSide as Duplex & { encrypted?: boolean }).encrypted = true;
  // The two ends of a pair do not destroy each other: a client gone is a socket closed to the server.
  clientSide.once('close', () => serverSide.destroy());
  serverSide.once('close', () => clientSide.destroy());
  server.emit('connection', serverSide);
  return new Promise<Response>((resolve, reject) => {
    const outgoing = httpRequest({
      method: request.method,
      path: `${url.pathname}${url.search}`,
      headers,
      createConnection: () => clientSide,
    });
    const abort = (): void => {
      outgoing.destroy();
    };
    request.signal.addEventListener('abort', abort, { once: true });
    outgoing.once('error', (error) => {
      request.signal.removeEventListener('abort', abort);
      reject(error);
    });
    outgoing.once('response', (answer) => {
      const responseHeaders = new Headers();
      const raw = answer.rawHeaders;
      for (let index = 0; index < raw.length; index += 2) {
        const name = raw[index] as string;
        if (!HOP_BY_HOP.has(name.toLowerCase())) responseHeaders.append(name, raw[index + 1] as string);
      }
      const status = answer.statusCode ?? 500;
      const bodyless = request.method === 'HEAD' || status === 204 || status === 304;
      answer.once('close', () => request.signal.removeEventListener('abort', abort));
      if (bodyless) answer.resume();
      resolve(
        new Response(bodyless ? null : (Readable.toWeb(answer) as ReadableStream<Uint8Array>), {
          status,
          statusText: answer.statusMessage ?? '',
          headers: responseHeaders,
        }),
      );
    });
    if (request.body === null) outgoing.end();
    else
      Readable.fromWeb(request.body as WebReadableStream<Uint8Array>)
        .once('error', abort)
        .pipe(outgoing);
  });
}
