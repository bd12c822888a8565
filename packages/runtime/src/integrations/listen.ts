import type { Server as HttpServer } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { Atmosphere } from '../atmosphere.ts';
import { createAtmosphere } from '../create.ts';
import type { AtmosphereOptions } from '../options.ts';

/** Options of the framework entries' `listen()`: Atmosphere's options, and where the application listens. */
export interface ListenOptions extends Omit<AtmosphereOptions, 'server' | 'port' | 'host'> {
  /** The application's port (0 = any free port). */
  port: number;
  /** The interface to listen on. Default `127.0.0.1`. */
  host?: string;
}

/** An application server with Atmosphere attached, listening. */
export interface ListeningApplication<S> {
  readonly atmosphere: Atmosphere;
  /** The application's server: its routes, Atmosphere's paths and WebSocket upgrades, on one port. */
  readonly server: S;
  /** `http://host:port` + path (or `ws://…`) of the application's server. */
  url(path?: string, protocol?: 'http' | 'ws'): string;
  /**
   * Closes Atmosphere (1001 to WebSockets, streams ended, `onDisconnect` run), then the server: idle connections at
   * once, requests still running after `shutdownTimeoutMs`. Idempotent.
   */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

type AnyServer = HttpServer | HttpsServer | Http2SecureServer;

/**
 * Attaches Atmosphere to `server` before it listens (so no request or upgrade ever reaches the application
 * without Atmosphere's paths being served), then listens on the application's port. A failure to listen
 * releases Atmosphere again.
 */
export async function listenAttached<S extends AnyServer>(
  server: S,
  options: ListenOptions,
): Promise<ListeningApplication<S>> {
  const { port, host = '127.0.0.1', reusePort, ...rest } = options;
  const atmosphere = await createAtmosphere({ ...rest, server });
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ port, host, ...(reusePort ? { reusePort: true } : {}) }, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    await atmosphere.close({ timeoutMs: 0 });
    throw error;
  }
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> =>
    (closing ??= (async () => {
      await atmosphere.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Atmosphere's connections are ended already; idle keep-alive ones go now, the application's requests
      // still running get the shutdown timeout to finish.
      const http = server as Partial<HttpServer>;
      http.closeIdleConnections?.();
      const forced = setTimeout(() => http.closeAllConnections?.(), rest.shutdownTimeoutMs ?? 10_000);
      forced.unref();
      await closed;
      clearTimeout(forced);
    })());
  return {
    atmosphere,
    server,
    url: (path = '/', protocol = 'http') => atmosphere.url(path, protocol),
    close,
    [Symbol.asyncDispose]: close,
  };
}
