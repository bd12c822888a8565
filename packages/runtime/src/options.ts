import type { Server as HttpServer } from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { Http2SecureServer } from 'node:http2';
import type { CacheLimits, CacheStats } from './delivery/client-queue.ts';
import type { AuthOptions } from './interceptors/auth.ts';
import type { BackpressureOptions, HeartbeatOptions } from './interceptors/builtins.ts';
import type { RateLimitOptions } from './interceptors/rate-limit.ts';
import type { MemoryStreamLogLimits } from './log/memory-stream-log.ts';
import type { MemorySessionStoreOptions } from './session/memory-session-store.ts';
import type { OriginPolicy } from './protocol/cors.ts';
import type { AwayLimits } from './server/core.ts';
import type { AtmosphereInterceptor } from './spi/interceptor.ts';
import type { Logger } from './spi/logger.ts';
import type { KindSelection, Provider } from './spi/provider.ts';

/** Options of {@link createAtmosphere}. Every one has a default; see each. */
export interface AtmosphereOptions {
  /**
   * The application's server to attach to: a `node:http` or `node:https` server, or `node:http2`'s secure
   * compatibility server with `allowHTTP1` (WebSocket upgrades arrive over its HTTP/1.1 connections). Its
   * requests and upgrades on Atmosphere paths are served; everything else reaches its own listeners. One of
   * `server` and `port` is required: Atmosphere never opens a port it was not asked for.
   */
  server?: HttpServer | HttpsServer | Http2SecureServer;
  /** Listen on a server of Atmosphere's own on this port when no `server` is given (0 = any free port). */
  port?: number;
  /** Interface to listen on when no `server` is given. Default `127.0.0.1`. */
  host?: string;
  /**
   * Let several processes listen on the same `port` (`SO_REUSEPORT`; Linux and some BSDs): the kernel
   * spreads new connections over them. This is how one machine runs several Atmosphere processes (one per
   * core, or more than one process's open-file limit allows) behind one port, with a backplane between them.
   * The kernel picks a process per TCP connection, so WebSocket clients stay on theirs; HTTP transports
   * (posts, later polls on other connections) need sticky routing in front. Default false. Ignored with
   * `server`.
   */
  reusePort?: boolean;
  /** Which browser origins may connect. Default same-origin only (see `publicOrigins`). */
  origins?: OriginPolicy;
  /**
   * `Host` header values the server answers (`chat.example.com`, `chat.example.com:8443`; without a port, any
   * port), or `'*'`. Default: on a loopback address, its loopback names on its port — a DNS-rebinding page is
   * refused (403 `HOST_NOT_ALLOWED`); elsewhere the hosts of `publicOrigins`, else any.
   */
  allowedHosts?: readonly string[] | '*';
  /**
   * The origins the application's pages are served from (`https://chat.example.com`): same-origin for the
   * origin check even when the request reached this server otherwise (a TLS proxy in front).
   */
  publicOrigins?: readonly string[];
  /** Heartbeats; `false` turns them off. */
  heartbeat?: HeartbeatOptions | false;
  /** Largest inbound message in bytes. Default 1 MiB (WebSocket close 1009, HTTP 413). */
  maxMessageBytes?: number;
  /** Inbound rate limit per connection; `false` turns it off. Default 100 messages/s, burst 200. */
  rateLimit?: RateLimitOptions | false;
  /** Close connections with no inbound activity for this long. Default 0 (off). */
  idleTimeoutMs?: number;
  /** Slow clients. Default: 1000 pending messages, then `disconnect`. */
  backpressure?: BackpressureOptions;
  /** Missed-message cache limits (PROTOCOL.md §6 defaults). */
  cache?: Partial<CacheLimits>;
  /** Limits of the memory stream log (the default `stream-log`). */
  log?: Partial<MemoryStreamLogLimits>;
  /** Limits of the memory session store (the default `session-store`). */
  sessions?: Pick<MemorySessionStoreOptions, 'limits' | 'maxSessions'>;
  /** How long a client that lost its connection may take to come back. Default `cache.clientTtlMs` (60 s). */
  reconnectGraceMs?: number;
  /**
   * The server-wide cap on clients away after a lost or cut connection (and long-polling clients that only
   * did their handshake), waiting out `reconnectGraceMs`: past `maxResources` of them (default 10 000) or
   * `maxBytes` queued for them in all (default 64 MiB), the ones away longest are ended first
   * (`onDisconnect` reason `timeout`). A long-polling client between two polls is not counted.
   */
  away?: Partial<AwayLimits>;
  /** The auth hook; absent = no authentication. */
  auth?: AuthOptions;
  /** Interceptors after the built-ins, in order. */
  interceptors?: readonly AtmosphereInterceptor[];
  /** Providers, explicitly (the primary, tree-shakeable way). */
  providers?: readonly Provider[];
  /** Options handed to providers by kind (`{ 'agent-runtime': { model: 'x' } }`). */
  settings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /**
   * Load the `register` entry of every `@atmosphere/*` package the application depends on. Default true;
   * `root` is where the application's package.json is (default: the nearest one above the entry script the
   * process was started with, or the current directory when that script is a tool in `node_modules`).
   */
  autoload?: boolean | { root?: string };
  /** Environment for providers. Default `process.env`. */
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  /** How long `close()` waits for pending writes and handlers. Default 10 000 ms. */
  shutdownTimeoutMs?: number;
}

/** What `describe()` tells about a running instance. */
export interface AtmosphereDescription {
  version: string;
  address: string | undefined;
  origins: string;
  paths: string[];
  /** Plain HTTP routes served beside the managed paths (`atmosphere.handle()`). */
  routes: string[];
  interceptors: string[];
  transports: string[];
  providers: KindSelection[];
  autoloaded: string[];
  /**
   * Clients connected and away; `awayCapped` of the away ones count against the away cap, with `awayBytes`
   * queued for them; `awayEvicted` were ended early by it since the start.
   */
  resources: { connected: number; away: number; awayCapped: number; awayBytes: number; awayEvicted: number };
  /** The away cap in force. */
  awayLimits: AwayLimits;
  /** The clients' queues (the missed-message cache). */
  cache: CacheStats & { limits: CacheLimits };
}
