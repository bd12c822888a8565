import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Http2SecureServer } from 'node:http2';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { BroadcastOptions } from './broadcast/broadcaster.ts';
import { BroadcasterFactory } from './broadcast/factory.ts';
import { ClientQueues, DEFAULT_CACHE_LIMITS } from './delivery/client-queue.ts';
import type { ClientResource } from './delivery/resource.ts';
import { managedServiceOf } from './decorators.ts';
import { AtmosphereError } from './errors.ts';
import { authInterceptor, DEFAULT_FIRST_MESSAGE_TIMEOUT_MS } from './interceptors/auth.ts';
import {
  backpressureInterceptor,
  heartbeatInterceptor,
  idleTimeoutInterceptor,
  maxMessageSizeInterceptor,
  originInterceptor,
  protocolInterceptor,
} from './interceptors/builtins.ts';
import { rateLimitInterceptor } from './interceptors/rate-limit.ts';
import { consoleLogger } from './logger.ts';
import type {
  HttpRoute,
  HttpRouteHandler,
  ManagedHandler,
  ManagedOptions,
  ManagedService,
} from './managed.ts';
import type { AtmosphereDescription, AtmosphereOptions } from './options.ts';
import { RequestGuard } from './protocol/cors.ts';
import { type AwayLimits, DEFAULT_AWAY_LIMITS, ServerCore } from './server/core.ts';
import { HttpServing } from './server/http-serving.ts';
import { PathTable } from './server/path-template.ts';
import { ManagedServiceImpl } from './server/served-resource.ts';
import { tick } from './server/ticker.ts';
import { rejectUpgrade, UpgradeServing } from './server/upgrade-serving.ts';
import type { BackplaneEvents, BroadcasterBackplane, RelayFailure } from './spi/backplane.ts';
import type { AtmosphereInterceptor } from './spi/interceptor.ts';
import type { Logger } from './spi/logger.ts';
import type { KindSelection, ProviderKind, ProviderKinds } from './spi/provider.ts';
import type { AtmosphereResource } from './spi/resource.ts';
import type { SessionStore } from './spi/session-store.ts';
import type { StreamLog } from './spi/stream-log.ts';
import type { AtmosphereMetrics } from './spi/metrics.ts';
import type { AtmosphereTracing } from './spi/tracing.ts';
import { RuntimeTelemetry } from './telemetry/runtime-telemetry.ts';
import { sendText } from './transports/http.ts';
import { VERSION } from './version.ts';

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
  /** The server Atmosphere serves on: the application's (`{ server }`), or its own (`{ port }`). */
  readonly server: HttpServer | HttpsServer | Http2SecureServer;
  readonly interceptors: AtmosphereInterceptor[];
  readonly #options: AtmosphereOptions;
  readonly #ownsServer: boolean;
  readonly #core: ServerCore;
  readonly #http: HttpServing;
  readonly #upgrade: UpgradeServing;
  readonly #cache: ClientQueues;
  readonly #log: StreamLog;
  readonly #selections: KindSelection[];
  readonly #instances: Map<string, unknown>;
  readonly #autoloaded: string[];
  readonly #guard: RequestGuard;
  readonly #relayListeners = new Set<(failure: RelayFailure) => void>();
  #relayFailures = 0;
  /** @internal What the backplane reports to (passed to its `start`). */
  readonly backplaneEvents: BackplaneEvents = {
    relayFailed: (failure) => this.#relayFailed(failure),
    resubscribed: () => {
      this.broadcasters.reconcile().catch((error: unknown) => {
        this.logger.error('reconciling the streams from the log after the backplane came back failed', {
          error,
        });
      });
    },
  };
  #ticker: NodeJS.Timeout | undefined;
  #lastSweep = 0;
  #closing: Promise<void> | undefined;
  readonly #httpRoutes = new PathTable<HttpRouteHandler>();
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
    server: HttpServer | HttpsServer | Http2SecureServer,
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
    this.#cache = new ClientQueues({ ...DEFAULT_CACHE_LIMITS, ...options.cache });
    this.#log = providers.instances.get('stream-log') as StreamLog;
    const backplane = providers.instances.get('broadcaster-backplane') as BroadcasterBackplane;
    const graceMs = options.reconnectGraceMs ?? this.#cache.limits.clientTtlMs;
    this.#guard = new RequestGuard(options, () => this.address());
    const maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    const telemetry = new RuntimeTelemetry(
      providers.instances.get('metrics') as AtmosphereMetrics | undefined,
      providers.instances.get('tracing') as AtmosphereTracing | undefined,
    );
    this.broadcasters = new BroadcasterFactory(
      this.logger,
      backplane,
      this.#log,
      (id) => this.#core.resources.get(id),
      telemetry,
    );
    this.interceptors = [
      protocolInterceptor(),
      originInterceptor(this.#guard),
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
      log: this.#log,
      broadcasters: this.broadcasters,
      maxMessageBytes,
      graceMs,
      away: awayLimits(options.away),
      sessions: providers.instances.get('session-store') as SessionStore | undefined,
      telemetry,
    });
    telemetry.observe({
      connectionsByTransport: () => {
        const counts = new Map<string, number>();
        for (const resource of this.#core.resources.values())
          if (resource.state === 'connected')
            counts.set(resource.transport, (counts.get(resource.transport) ?? 0) + 1);
        return counts;
      },
      broadcasters: () => this.broadcasters.size,
      queuedMessages: () => {
        const stats = this.#cache.stats();
        return stats.pending + stats.unconfirmed;
      },
    });
    this.#http = new HttpServing(this.#core, this.#guard);
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
    server.on('listening', this.#forgetAddress);
    server.on('close', this.#forgetAddress);
  }

  #detach(): void {
    const server = this.server;
    server.off('request', this.#onRequest);
    server.off('upgrade', this.#onUpgrade);
    server.off('listening', this.#forgetAddress);
    server.off('close', this.#forgetAddress);
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

  /** The stream log in use (the `stream-log` provider the registry selected). */
  get log(): StreamLog {
    return this.#log;
  }

  /**
   * The address the server listens on, when it listens. Asked on every request (the host check): the server's
   * answer (a system call) is kept until it listens again or closes.
   */
  address(): AddressInfo | undefined {
    if (this.#address !== undefined) return this.#address;
    const address = this.server.address();
    if (address === null || typeof address !== 'object') return undefined;
    this.#address = address;
    return address;
  }

  #address: AddressInfo | undefined;
  readonly #forgetAddress = (): void => {
    this.#address = undefined;
  };

  /** `http://host:port` + path, for a server that listens (tests, samples). */
  url(path = '/', protocol: 'http' | 'ws' = 'http'): string {
    const address = this.address();
    if (!address) throw new AtmosphereError('INVALID_OPTION', 'The server is not listening yet.');
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return `${protocol}://${host}:${address.port}${path}`;
  }

  /**
   * The session token a connection is bound to (it asked for a session with `X-Atmosphere-Session-Token`), if
   * any: the key under which the `session-store` keeps what the connection must get back when it returns
   * (rooms, subscriptions). Undefined for a connection without a session or of another instance.
   */
  sessionTokenOf(resource: AtmosphereResource): string | undefined {
    return this.#core.sessionTokenOf(resource as ClientResource);
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

  /**
   * A connect/express-style middleware that serves Atmosphere paths and passes everything else on. Only for an
   * Atmosphere attached to the application's server (`createAtmosphere({ server })`, which already serves its
   * paths and its WebSocket upgrades): a middleware sees no upgrade, so one of an Atmosphere listening on a port
   * of its own would serve HTTP transports on the application's port and WebSocket on another. That is refused
   * with `NOT_ATTACHED`.
   */
  middleware(): (
    request: IncomingMessage,
    response: ServerResponse,
    next: (error?: unknown) => void,
  ) => void {
    if (this.#ownsServer) {
      const where = this.address();
      throw new AtmosphereError(
        'NOT_ATTACHED',
        `middleware() needs an Atmosphere attached to the application's server: this one listens on a port of its own${where ? ` (${where.port})` : ''}, and a middleware never sees WebSocket upgrades. Pass the application's server instead — const server = http.createServer(app); await createAtmosphere({ server }); server.listen(port) — or use listen(app, { port }) from @atmosphere/runtime/express; the server then serves the Atmosphere paths and upgrades itself, no middleware needed.`,
      );
    }
    return (request, response, next) => {
      if (!this.handleRequest(request, response)) next();
    };
  }

  /** Serves the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const route = this.#core.route(request.url);
    if (route) {
      this.#http.serve(request, response, route);
      return true;
    }
    const http = this.#httpRoute(request.url);
    if (!http?.value.request) return false;
    if (this.#core.closing) {
      sendText(response, 503, 'The server is shutting down.');
      return true;
    }
    const routeHandler = http.value;
    this.#runHttpRoute(() => routeHandler.request?.(request, response, http.params), response);
    return true;
  }

  /** Upgrades the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const route = this.#core.route(request.url);
    if (route) {
      this.#upgrade.serve(request, socket, head, route);
      return true;
    }
    const http = this.#httpRoute(request.url);
    if (!http?.value.upgrade) return false;
    if (this.#core.closing) {
      rejectUpgrade(socket, 503, 'Service Unavailable');
      return true;
    }
    try {
      http.value.upgrade(request, socket, head, http.params);
    } catch (error) {
      this.logger.error(`upgrade handler of ${request.url ?? '/'} threw`, { error });
      rejectUpgrade(socket, 500, 'Internal Server Error');
    }
    return true;
  }

  /**
   * Serves plain HTTP requests (and, with `upgrade`, upgrade requests) on a path of the Atmosphere server,
   * outside the Atmosphere protocol: for protocols that live beside it (an MCP endpoint, an AI SDK chat
   * endpoint). The path is a template like `managed()`'s; managed paths win over these. The handler owns the
   * request completely: no interceptor runs (origin, auth and limits are its to check) and a throw or a
   * rejection answers 500. Returns the route; `remove()` unregisters it.
   */
  handle(path: string, handler: HttpRouteHandler): HttpRoute {
    this.#httpRoutes.add(path, handler);
    return {
      path,
      remove: () => {
        this.#httpRoutes.remove(path);
      },
    };
  }

  #httpRoute(url: string | undefined) {
    if (this.#httpRoutes.size === 0) return undefined;
    const raw = url ?? '/';
    const queryStart = raw.indexOf('?');
    try {
      return this.#httpRoutes.match(decodeURIComponent(queryStart === -1 ? raw : raw.slice(0, queryStart)));
    } catch {
      return undefined;
    }
  }

  #runHttpRoute(call: () => void | Promise<void>, response: ServerResponse): void {
    const failed = (error: unknown): void => {
      this.logger.error('an HTTP route handler failed', { error });
      if (!response.headersSent) sendText(response, 500, 'Internal Server Error');
      else response.destroy();
    };
    try {
      const result = call();
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** Who is who: the selection of each provider kind, paths, interceptors, counts. */
  describe(): AtmosphereDescription {
    const address = this.address();
    const core = this.#core;
    return {
      version: VERSION,
      address: address ? `${address.address}:${address.port}` : undefined,
      origins: this.#guard.describe(),
      paths: core.routes.values().map((s) => s.path),
      routes: this.#httpRoutes.templates(),
      interceptors: this.interceptors.map((i) => i.name),
      transports: BUILTIN_TRANSPORTS,
      providers: this.#selections,
      autoloaded: this.#autoloaded,
      resources: {
        ...countResources(core.resources.values()),
        awayCapped: core.away.size,
        awayBytes: this.#cache.awayBytes,
        awayEvicted: core.awayEvicted,
      },
      awayLimits: { ...core.awayLimits },
      cache: { ...this.#cache.stats(), limits: { ...this.#cache.limits } },
    };
  }

  /**
   * Calls `listener` for every broadcast of this node that the clustering backplane could not relay to the
   * other nodes (the bus was down and its local buffer full, a message too large, a publish refused or cut
   * off): those broadcasts reached this node's clients only. Returns the function that removes the listener.
   * A throwing listener is logged and does not affect the others.
   */
  onRelayFailure(listener: (failure: RelayFailure) => void): () => void {
    this.#relayListeners.add(listener);
    return () => this.#relayListeners.delete(listener);
  }

  /** Broadcasts of this node not relayed to the other nodes since it started (see {@link onRelayFailure}). */
  get relayFailures(): number {
    return this.#relayFailures;
  }

  #relayFailed(failure: RelayFailure): void {
    this.#relayFailures += failure.count;
    for (const listener of this.#relayListeners) {
      try {
        listener(failure);
      } catch (error) {
        this.logger.error('an onRelayFailure listener threw', { error });
      }
    }
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
    await Promise.race([core.work.idle(), delay(Math.max(0, deadline - Date.now()))]);
    // Plain HTTP routes end what they hold open (an MCP endpoint's sessions) before the providers go.
    const routesClosed = this.#httpRoutes.values().map(async (route) => {
      try {
        await route.close?.();
      } catch (error) {
        this.logger.error('an HTTP route failed to close', { error });
      }
    });
    await Promise.race([Promise.allSettled(routesClosed), delay(Math.max(0, deadline - Date.now()))]);
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
    // Counts of warnings held back (evictions, slow clients cut) are not lost with the process.
    core.warnings.flush(true);
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

function awayLimits(options: Partial<AwayLimits> | undefined): AwayLimits {
  const limits = { ...DEFAULT_AWAY_LIMITS, ...options };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isInteger(value) || value < 1)
      throw new AtmosphereError('INVALID_OPTION', `away.${name} must be a positive integer; got ${value}.`);
  }
  return limits;
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
