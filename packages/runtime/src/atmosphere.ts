import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type BroadcasterBackplane, LocalBackplane } from './broadcast/backplane.ts';
import type { BroadcastOptions } from './broadcast/broadcaster.ts';
import {
  type BroadcasterCache,
  type CacheLimits,
  DEFAULT_CACHE_LIMITS,
  MemoryBroadcasterCache,
} from './broadcast/cache.ts';
import { BroadcasterFactory } from './broadcast/factory.ts';
import { managedServiceOf } from './decorators.ts';
import { AtmosphereError } from './errors.ts';
import { type AuthOptions, authInterceptor, DEFAULT_FIRST_MESSAGE_TIMEOUT_MS } from './interceptors/auth.ts';
import {
  backpressureInterceptor,
  type BackpressureOptions,
  heartbeatInterceptor,
  type HeartbeatOptions,
  idleTimeoutInterceptor,
  maxMessageSizeInterceptor,
  originInterceptor,
  protocolInterceptor,
} from './interceptors/builtins.ts';
import type { AtmosphereInterceptor } from './interceptors/interceptor.ts';
import { rateLimitInterceptor, type RateLimitOptions } from './interceptors/rate-limit.ts';
import { consoleLogger, type Logger } from './logger.ts';
import type { ManagedHandler, ManagedOptions, ManagedService } from './managed.ts';
import { describeOriginPolicy, type OriginPolicy } from './protocol/cors.ts';
import { autoloadRegisterEntries } from './registry/autoload.ts';
import {
  describeSelection,
  type KindSelection,
  type Provider,
  type ProviderContext,
  type ProviderKind,
  type ProviderKinds,
  registry,
  selectProvider,
} from './registry/registry.ts';
import type { AtmosphereResource } from './resource.ts';
import { ServerCore } from './server/core.ts';
import { HttpServing } from './server/http-serving.ts';
import { ManagedServiceImpl } from './server/served-resource.ts';
import { tick } from './server/ticker.ts';
import { rejectUpgrade, UpgradeServing } from './server/upgrade-serving.ts';
import { sendText } from './transports/http.ts';
import { VERSION } from './version.ts';

export interface AtmosphereOptions {
  /** An existing `node:http`/`node:https` server to attach to (its other routes keep working). */
  server?: HttpServer | HttpsServer;
  /** Listen on this port when no `server` is given (0 = any free port). Default 8080. */
  port?: number;
  /** Interface to listen on when no `server` is given. Default `127.0.0.1`. */
  host?: string;
  /** Which browser origins may connect. Default same-origin only. */
  origins?: OriginPolicy;
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
  /** How long a client that lost its connection may take to come back. Default `cache.clientTtlMs` (60 s). */
  reconnectGraceMs?: number;
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
   * `root` is where the application's package.json is (default `process.cwd()`).
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
  interceptors: string[];
  transports: string[];
  providers: KindSelection[];
  autoloaded: string[];
  resources: { connected: number; away: number };
  cache: ReturnType<BroadcasterCache['stats']> & { limits: CacheLimits };
}

const BUILTIN_TRANSPORTS = ['websocket', 'sse', 'streaming', 'long-polling', 'polling'];

/**
 * A running Atmosphere server. Create it with {@link createAtmosphere}; register paths with `managed()`;
 * stop it with `close()` (or `await using`).
 *
 * The work is done in `server/`: {@link ServerCore} holds the shared state and the connect pipeline,
 * `HttpServing` and `UpgradeServing` serve the two kinds of request, `Inbound` handles client messages and
 * `tick` sweeps heartbeats, probes and grace periods. This class wires them and is the public face.
 */
export class Atmosphere {
  readonly logger: Logger;
  readonly broadcasters: BroadcasterFactory;
  readonly server: HttpServer | HttpsServer;
  readonly interceptors: AtmosphereInterceptor[];
  readonly #options: AtmosphereOptions;
  readonly #ownsServer: boolean;
  readonly #core: ServerCore;
  readonly #http: HttpServing;
  readonly #upgrade: UpgradeServing;
  readonly #cache: BroadcasterCache;
  readonly #selections: KindSelection[];
  readonly #instances: Map<string, unknown>;
  readonly #autoloaded: string[];
  readonly #origins: OriginPolicy;
  #ticker: NodeJS.Timeout | undefined;
  #lastSweep = 0;
  #closing: Promise<void> | undefined;
  #wrappedRequest: ((...args: unknown[]) => void)[] = [];
  #wrappedUpgrade: ((...args: unknown[]) => void)[] = [];
  readonly #onRequest = (request: IncomingMessage, response: ServerResponse): void => {
    if (this.handleRequest(request, response)) return;
    if (this.#wrappedRequest.length === 0) {
      sendText(response, 404, 'Not Found');
      return;
    }
    for (const listener of this.#wrappedRequest) listener.call(this.server, request, response);
  };
  readonly #onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer): void => {
    if (this.handleUpgrade(request, socket, head)) return;
    if (this.#wrappedUpgrade.length === 0 && this.server.listenerCount('upgrade') <= 1) {
      rejectUpgrade(socket, 404, 'Not Found');
      return;
    }
    for (const listener of this.#wrappedUpgrade) listener.call(this.server, request, socket, head);
  };

  /** @internal Use {@link createAtmosphere}. */
  constructor(
    options: AtmosphereOptions,
    server: HttpServer | HttpsServer,
    ownsServer: boolean,
    providers: { selections: KindSelection[]; instances: Map<string, unknown>; autoloaded: string[] },
  ) {
    this.#options = options;
    this.logger = options.logger ?? consoleLogger();
    this.server = server;
    this.#ownsServer = ownsServer;
    this.#selections = providers.selections;
    this.#instances = providers.instances;
    this.#autoloaded = providers.autoloaded;
    this.#cache = providers.instances.get('broadcaster-cache') as BroadcasterCache;
    const backplane = providers.instances.get('broadcaster-backplane') as BroadcasterBackplane;
    const graceMs = options.reconnectGraceMs ?? this.#cache.limits.clientTtlMs;
    this.#origins = options.origins ?? 'same-origin';
    const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.broadcasters = new BroadcasterFactory(this.logger, backplane, (id) => this.#core.resources.get(id));
    this.interceptors = [
      protocolInterceptor(),
      originInterceptor(this.#origins),
      maxMessageSizeInterceptor(maxMessageBytes),
      ...(options.auth ? [authInterceptor(options.auth)] : []),
      ...(options.rateLimit === false ? [] : [rateLimitInterceptor(options.rateLimit)]),
      heartbeatInterceptor(options.heartbeat ?? {}),
      idleTimeoutInterceptor(options.idleTimeoutMs ?? 0),
      backpressureInterceptor(options.backpressure),
      ...(options.interceptors ?? []),
    ];
    this.#core = new ServerCore({
      logger: this.logger,
      interceptors: this.interceptors,
      cache: this.#cache,
      broadcasters: this.broadcasters,
      maxMessageBytes,
      graceMs,
    });
    this.#http = new HttpServing(this.#core, this.#origins);
    this.#upgrade = new UpgradeServing(this.#core, {
      maxMessageBytes,
      firstMessageTimeoutMs: options.auth?.firstMessageTimeoutMs ?? DEFAULT_FIRST_MESSAGE_TIMEOUT_MS,
    });
    const heartbeat = options.heartbeat;
    const minHeartbeat =
      heartbeat === false
        ? 1000
        : Math.min(heartbeat?.minIntervalMs ?? Infinity, heartbeat?.intervalMs ?? 60_000);
    const tickMs = Math.max(
      20,
      Math.min(1000, Math.floor(minHeartbeat / 4), Math.floor(graceMs / 4) || 1000),
    );
    this.#ticker = setInterval(() => {
      this.#lastSweep = tick(this.#core, Date.now(), this.#lastSweep);
    }, tickMs);
    this.#ticker.unref();
    this.#attach();
  }

  #attach(): void {
    const server = this.server;
    this.#wrappedRequest = server.listeners('request') as ((...args: unknown[]) => void)[];
    this.#wrappedUpgrade = server.listeners('upgrade') as ((...args: unknown[]) => void)[];
    server.removeAllListeners('request');
    server.removeAllListeners('upgrade');
    server.on('request', this.#onRequest);
    server.on('upgrade', this.#onUpgrade);
  }

  #detach(): void {
    const server = this.server;
    server.off('request', this.#onRequest);
    server.off('upgrade', this.#onUpgrade);
    for (const listener of this.#wrappedRequest) server.on('request', listener);
    for (const listener of this.#wrappedUpgrade) server.on('upgrade', listener);
  }

  /** The instance the registry selected for a kind, if any. */
  provider<K extends ProviderKind>(kind: K): ProviderKinds[K] | undefined {
    return this.#instances.get(kind) as ProviderKinds[K] | undefined;
  }

  /** How long a client whose connection was lost may take to come back before it is disconnected. */
  get reconnectGraceMs(): number {
    return this.#core.graceMs;
  }

  /** The missed-message cache in use. */
  get cache(): BroadcasterCache {
    return this.#cache;
  }

  /** The address the server listens on, when it listens. */
  address(): AddressInfo | undefined {
    const address = this.server.address();
    return address !== null && typeof address === 'object' ? address : undefined;
  }

  /** `http://host:port` + path, for a server that listens (tests, samples). */
  url(path = '/', protocol: 'http' | 'ws' = 'http'): string {
    const address = this.address();
    if (!address) throw new AtmosphereError('INVALID_OPTION', 'The server is not listening yet.');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${protocol}://${host}:${address.port}${path}`;
  }

  /** A resource of this node by tracking id. */
  resource(id: string): AtmosphereResource | undefined {
    return this.#core.resources.get(id);
  }

  resources(): IterableIterator<AtmosphereResource> {
    return this.#core.resources.values();
  }

  /**
   * Serves a path (with `{name}` parameters and an optional trailing `*`). Each connecting client becomes an
   * {@link AtmosphereResource}, subscribed to the broadcaster named by its concrete path.
   */
  managed<In = unknown>(
    path: string,
    handler: ManagedHandler<In>,
    options: ManagedOptions = {},
  ): ManagedService {
    const core = this.#core;
    const service: ManagedServiceImpl = new ManagedServiceImpl(path, handler, options, () =>
      core.removeRoute(path),
    );
    core.addRoute(path, service);
    return service;
  }

  /** Registers a class (or instance) decorated with `@ManagedService`. */
  register(target: object): ManagedService {
    const found = managedServiceOf(target);
    if (!found) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        'register() needs a class or instance decorated with @ManagedService(path).',
      );
    }
    return this.managed(found.path, found.handler, found.options);
  }

  /** Broadcasts on the broadcaster `id` (created if needed). */
  broadcast(id: string, message: unknown, options?: BroadcastOptions): Promise<void> {
    return this.broadcasters.get(id).broadcast(message, options);
  }

  /** A connect/express-style middleware that serves Atmosphere paths and passes everything else on. */
  middleware(): (
    request: IncomingMessage,
    response: ServerResponse,
    next: (error?: unknown) => void,
  ) => void {
    return (request, response, next) => {
      if (!this.handleRequest(request, response)) next();
    };
  }

  /** Serves the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const route = this.#core.route(request.url);
    if (!route) return false;
    this.#http.serve(request, response, route);
    return true;
  }

  /** Upgrades the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const route = this.#core.route(request.url);
    if (!route) return false;
    this.#upgrade.serve(request, socket, head, route);
    return true;
  }

  /** Who is who: the selection of each provider kind, paths, interceptors, counts. */
  describe(): AtmosphereDescription {
    const address = this.address();
    const core = this.#core;
    return {
      version: VERSION,
      address: address ? `${address.address}:${address.port}` : undefined,
      origins: describeOriginPolicy(this.#origins),
      paths: core.routes.values().map((s) => s.path),
      interceptors: this.interceptors.map((i) => i.name),
      transports: BUILTIN_TRANSPORTS,
      providers: this.#selections,
      autoloaded: this.#autoloaded,
      resources: countResources(core.resources.values()),
      cache: { ...this.#cache.stats(), limits: { ...this.#cache.limits } },
    };
  }

  /**
   * Graceful shutdown: refuse new connections (503), write what is pending (up to the timeout), close
   * WebSockets with 1001 and end HTTP streams, run every `onDisconnect`, await handlers still running, close
   * providers, and — when Atmosphere created the server — close it. Idempotent.
   */
  close(options: { timeoutMs?: number } = {}): Promise<void> {
    this.#closing ??= this.#shutdown(options.timeoutMs ?? this.#options.shutdownTimeoutMs ?? 10_000);
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(timeoutMs: number): Promise<void> {
    const core = this.#core;
    core.closing = true;
    const deadline = Date.now() + timeoutMs;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    const serverClosed = this.#ownsServer
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    // Write what is pending while the sockets take it.
    for (const resource of core.resources.values()) resource.flush();
    await waitUntil(
      () =>
        [...core.resources.values()].every(
          (r) => r.queue.pending.length === 0 || r.connection?.open !== true,
        ),
      deadline,
    );
    for (const resource of [...core.resources.values()])
      resource.expire('server-closed', 1001, 'Server shutting down');
    await Promise.race([Promise.allSettled([...core.work]), delay(Math.max(0, deadline - Date.now()))]);
    this.broadcasters.destroyAll();
    for (const [kind, instance] of this.#instances) {
      const closable = instance as { close?: () => Promise<void> };
      if (typeof closable.close === 'function') {
        try {
          await closable.close();
        } catch (error) {
          this.logger.error(`provider of ${kind} failed to close`, { error });
        }
      }
    }
    this.#upgrade.close();
    if (this.#ownsServer) {
      const server = this.server as HttpServer;
      server.closeIdleConnections();
      const forced = setTimeout(() => server.closeAllConnections(), Math.max(0, deadline - Date.now()));
      forced.unref();
      await serverClosed;
      clearTimeout(forced);
    } else {
      this.#detach();
    }
  }
}

function countResources(resources: Iterable<AtmosphereResource>): { connected: number; away: number } {
  let connected = 0;
  let away = 0;
  for (const resource of resources) {
    if (resource.state === 'connected') connected++;
    else if (resource.state === 'away') away++;
  }
  return { connected, away };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

async function waitUntil(condition: () => boolean, deadline: number): Promise<void> {
  while (!condition() && Date.now() < deadline) await delay(10);
}

/**
 * Starts Atmosphere: loads providers (explicit ones, then the `register` entries of installed
 * `@atmosphere/*` packages), selects one per kind (logging who won and why), and attaches to `server` or
 * listens on `port`/`host`.
 */
export async function createAtmosphere(options: AtmosphereOptions = {}): Promise<Atmosphere> {
  const logger = options.logger ?? consoleLogger();
  let autoloaded: string[] = [];
  if (options.autoload !== false) {
    const root =
      typeof options.autoload === 'object' && options.autoload.root ? options.autoload.root : process.cwd();
    const result = await autoloadRegisterEntries(root, logger);
    autoloaded = result.loaded;
    for (const failure of result.failed)
      logger.warn(`autoload: ${failure.name}/register could not load: ${failure.error}`);
  }
  const env = options.env ?? process.env;
  const explicit = [...(options.providers ?? []), ...builtinProviders(options)];
  const kinds = new Set<string>([
    'broadcaster-backplane',
    'broadcaster-cache',
    ...registry.kinds(),
    ...explicit.map((p) => p.kind),
  ]);
  const selections: KindSelection[] = [];
  const instances = new Map<string, unknown>();
  for (const kind of kinds) {
    const context: ProviderContext = { env, logger, settings: options.settings?.[kind] ?? {} };
    const { selection, instance } = await selectProvider(
      kind as ProviderKind,
      explicit,
      registry.providers(kind),
      context,
    );
    selections.push(selection);
    if (instance !== undefined) instances.set(kind, instance);
    logger.info(describeSelection(selection));
  }
  const backplane = instances.get('broadcaster-backplane') as BroadcasterBackplane | undefined;
  if (!backplane || !instances.has('broadcaster-cache')) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'The built-in backplane or cache could not start; see the log above.',
    );
  }
  let server = options.server;
  const ownsServer = server === undefined;
  server ??= createServer();
  const atmosphere = new Atmosphere(options, server, ownsServer, { selections, instances, autoloaded });
  await backplane.start((message) => atmosphere.broadcasters.deliverRemote(message));
  if (ownsServer) {
    const host = options.host ?? '127.0.0.1';
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port ?? 8080, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || error.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }
  logger.info(
    `Atmosphere ${VERSION} ${ownsServer ? `listening on ${atmosphere.url('/')}` : 'attached to the application server'}; origins: ${describeOriginPolicy(options.origins ?? 'same-origin')}`,
  );
  return atmosphere;
}

/** The runtime's own kinds go through the registry like everyone else's, at priority 0. */
function builtinProviders(options: AtmosphereOptions): Provider[] {
  return [
    {
      kind: 'broadcaster-backplane',
      name: 'local',
      priority: 0,
      isAvailable: () => true,
      create: () => new LocalBackplane(),
    },
    {
      kind: 'broadcaster-cache',
      name: 'memory',
      priority: 0,
      isAvailable: () => true,
      create: () => new MemoryBroadcasterCache({ ...DEFAULT_CACHE_LIMITS, ...options.cache }),
    },
  ];
}
