import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { type BroadcasterBackplane, LocalBackplane } from './broadcast/backplane.ts';
import type { BroadcastOptions } from './broadcast/broadcaster.ts';
import {
  type BroadcasterCache,
  type CacheLimits,
  DEFAULT_CACHE_LIMITS,
  MemoryBroadcasterCache,
} from './broadcast/cache.ts';
import { BroadcasterFactory } from './broadcast/factory.ts';
import type { OutboundMessage } from './broadcast/message.ts';
import { PathTable } from './broadcast/path-template.ts';
import { managedServiceOf } from './decorators.ts';
import { AtmosphereError, toError } from './errors.ts';
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
  tooLarge,
} from './interceptors/builtins.ts';
import {
  type AtmosphereInterceptor,
  type ConnectContext,
  type InboundPayload,
  runConnect,
  runInbound,
} from './interceptors/interceptor.ts';
import { rateLimitInterceptor, type RateLimitOptions } from './interceptors/rate-limit.ts';
import { consoleLogger, type Logger } from './logger.ts';
import type { ManagedContext, ManagedHandler, ManagedOptions, ManagedService } from './managed.ts';
import { Headers, NO_CACHE_HEADERS, PADDING_CHAR } from './protocol/constants.ts';
import {
  describeOriginPolicy,
  isOriginAllowed,
  type OriginPolicy,
  preflightHeaders,
} from './protocol/cors.ts';
import { handshakeText, lengthPrefixed } from './protocol/framing.ts';
import { parseUntrustedJson } from './protocol/json.ts';
import { parseProtocolRequest, type ProtocolRequest } from './protocol/request.ts';
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
import {
  AtmosphereResource,
  type ConnectionSettings,
  type DisconnectReason,
  type ResourceHost,
} from './resource.ts';
import type { Connection } from './transports/connection.ts';
import {
  PollConnection,
  responseHeaders,
  sendText,
  SseConnection,
  StreamingConnection,
} from './transports/http.ts';
import { WebSocketConnection } from './transports/websocket.ts';
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

interface Route {
  service: ManagedServiceImpl;
  params: Record<string, string>;
}

class ManagedServiceImpl implements ManagedService {
  readonly path: string;
  readonly handler: ManagedHandler<never>;
  readonly options: ManagedService['options'];
  readonly #remove: () => void;

  constructor(path: string, handler: ManagedHandler<never>, options: ManagedOptions, remove: () => void) {
    this.path = path;
    this.handler = handler;
    this.options = {
      codec: options.codec ?? 'json',
      subscribe: options.subscribe ?? true,
      maxJsonDepth: options.maxJsonDepth ?? 64,
      broadcaster: options.broadcaster ?? { destroyWhenEmpty: true },
    };
    this.#remove = remove;
  }

  remove(): void {
    this.#remove();
  }
}

const BUILTIN_TRANSPORTS = ['websocket', 'sse', 'streaming', 'long-polling', 'polling'];

/**
 * A running Atmosphere server. Create it with {@link createAtmosphere}; register paths with `managed()`;
 * stop it with `close()` (or `await using`).
 */
export class Atmosphere implements ResourceHost {
  readonly logger: Logger;
  readonly broadcasters: BroadcasterFactory;
  readonly server: HttpServer | HttpsServer;
  readonly interceptors: AtmosphereInterceptor[];
  /** @internal Outbound hooks of the interceptors, last interceptor first. */
  readonly outbound: ((
    message: OutboundMessage,
    resource: AtmosphereResource,
  ) => OutboundMessage | undefined)[];
  readonly #options: AtmosphereOptions;
  readonly #ownsServer: boolean;
  readonly #routes = new PathTable<ManagedServiceImpl>();
  readonly #resources = new Map<string, AtmosphereResource>();
  readonly #serviceOf = new WeakMap<AtmosphereResource, ManagedServiceImpl>();
  /** Resources whose `onReady` ran: only they get an `onDisconnect`. */
  readonly #ready = new WeakSet<AtmosphereResource>();
  readonly #connected = new Set<AtmosphereResource>();
  readonly #away = new Set<AtmosphereResource>();
  readonly #lastWrite = new WeakMap<Connection, number>();
  readonly #inbound = new WeakMap<AtmosphereResource, Promise<void>>();
  readonly #pendingAuth = new WeakMap<AtmosphereResource, (token: string) => Promise<unknown>>();
  readonly #handlerWork = new Set<Promise<unknown>>();
  readonly #wss: WebSocketServer;
  readonly #cache: BroadcasterCache;
  readonly #backplane: BroadcasterBackplane;
  readonly #selections: KindSelection[];
  readonly #instances: Map<string, unknown>;
  readonly #autoloaded: string[];
  readonly #graceMs: number;
  readonly #origins: OriginPolicy;
  readonly #maxMessageBytes: number;
  #ticker: NodeJS.Timeout | undefined;
  #lastSweep = 0;
  #tickMs: number;
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
    this.#backplane = providers.instances.get('broadcaster-backplane') as BroadcasterBackplane;
    this.#graceMs = options.reconnectGraceMs ?? this.#cache.limits.clientTtlMs;
    this.#origins = options.origins ?? 'same-origin';
    this.#maxMessageBytes = options.maxMessageBytes ?? 1024 * 1024;
    this.broadcasters = new BroadcasterFactory(this.logger, this.#backplane, (id) => this.#resources.get(id));
    this.interceptors = [
      protocolInterceptor(),
      originInterceptor(this.#origins),
      maxMessageSizeInterceptor(this.#maxMessageBytes),
      ...(options.auth ? [authInterceptor(options.auth)] : []),
      ...(options.rateLimit === false ? [] : [rateLimitInterceptor(options.rateLimit)]),
      heartbeatInterceptor(options.heartbeat ?? {}),
      idleTimeoutInterceptor(options.idleTimeoutMs ?? 0),
      backpressureInterceptor(options.backpressure),
      ...(options.interceptors ?? []),
    ];
    this.outbound = this.interceptors
      .filter((interceptor) => interceptor.onOutbound !== undefined)
      .reverse()
      .map(
        (interceptor) => (message: OutboundMessage, resource: AtmosphereResource) =>
          interceptor.onOutbound!(message, resource),
      );
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.#maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
    });
    this.#wss.on('headers', (headers: string[], request: IncomingMessage) => {
      const protocol = upgradeRequests.get(request);
      if (!protocol) return;
      headers.push(`${Headers.trackingId}: ${protocol.trackingId}`);
      if (protocol.firstRequest) headers.push(`${Headers.firstRequest}: true`);
    });
    const heartbeat = options.heartbeat;
    const minHeartbeat =
      heartbeat === false
        ? 1000
        : Math.min(heartbeat?.minIntervalMs ?? Infinity, heartbeat?.intervalMs ?? 60_000);
    this.#tickMs = Math.max(
      20,
      Math.min(1000, Math.floor(minHeartbeat / 4), Math.floor(this.#graceMs / 4) || 1000),
    );
    this.#ticker = setInterval(() => this.#tick(), this.#tickMs);
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
    return this.#graceMs;
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
    return this.#resources.get(id);
  }

  resources(): IterableIterator<AtmosphereResource> {
    return this.#resources.values();
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
    const service: ManagedServiceImpl = new ManagedServiceImpl(path, handler, options, () =>
      this.#routes.remove(path),
    );
    this.#routes.add(path, service);
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

  // ---------------------------------------------------------------------------------------------- HTTP

  /** Serves the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleRequest(request: IncomingMessage, response: ServerResponse): boolean {
    const route = this.#route(request.url);
    if (!route) return false;
    this.#serveHttp(request, response, route).catch((error: unknown) => {
      this.#respondError(response, error, request);
    });
    return true;
  }

  #route(url: string | undefined): Route | undefined {
    if (this.#routes.size === 0) return undefined;
    const raw = url ?? '/';
    const queryStart = raw.indexOf('?');
    let path: string;
    try {
      path = decodeURIComponent(queryStart === -1 ? raw : raw.slice(0, queryStart));
    } catch {
      return undefined;
    }
    const match = this.#routes.match(path);
    return match ? { service: match.value, params: match.params } : undefined;
  }

  #respondError(response: ServerResponse, error: unknown, request?: IncomingMessage): void {
    const known = AtmosphereError.isInstance(error);
    if (!known) this.logger.error('request failed', { error });
    const status = known ? (error.status ?? 400) : 500;
    const message = known ? error.message : 'Internal Server Error';
    const headers: Record<string, string> = { ...(known ? error.headers : {}) };
    headers[Headers.error] ??= message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    if (request && isOriginAllowed(this.#origins, request) && request.headers.origin) {
      headers['Access-Control-Allow-Origin'] = request.headers.origin;
      headers['Access-Control-Expose-Headers'] = Headers.error;
    }
    if (!response.headersSent) sendText(response, status, message, headers);
    else response.end();
  }

  async #serveHttp(request: IncomingMessage, response: ServerResponse, route: Route): Promise<void> {
    if (this.#closing)
      throw new AtmosphereError('SHUTTING_DOWN', 'The server is shutting down.', { status: 503 });
    if (request.method === 'OPTIONS') {
      if (!isOriginAllowed(this.#origins, request)) {
        throw new AtmosphereError('ORIGIN_NOT_ALLOWED', `Origin ${request.headers.origin} is not allowed.`, {
          status: 403,
        });
      }
      response.writeHead(204, { ...NO_CACHE_HEADERS, ...preflightHeaders(request) });
      response.end();
      return;
    }
    const protocol = parseProtocolRequest(request, false);
    if (protocol.transport === 'close') {
      if (!isOriginAllowed(this.#origins, request)) {
        throw new AtmosphereError('ORIGIN_NOT_ALLOWED', `Origin ${request.headers.origin} is not allowed.`, {
          status: 403,
        });
      }
      request.resume();
      this.#closeRequest(protocol);
      response.writeHead(200, responseHeaders(protocol, request));
      response.end();
      return;
    }
    if (request.method === 'POST' || request.method === 'PUT' || protocol.postBody !== undefined) {
      await this.#servePost(request, response, protocol);
      return;
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Method ${request.method} is not supported; use GET, POST or OPTIONS.`,
        { status: 405 },
      );
    }
    if (protocol.transport === 'websocket') {
      throw new AtmosphereError(
        'BAD_REQUEST',
        'The websocket transport needs an Upgrade: websocket request.',
        { status: 400 },
      );
    }
    const existing = this.#resources.get(protocol.trackingId);
    const context = await this.#connect(protocol, request, false, existing);
    if (response.destroyed) return;
    let connection: SseConnection | StreamingConnection | PollConnection;
    switch (protocol.transport) {
      case 'sse':
        connection = new SseConnection(response, protocol, request);
        break;
      case 'streaming':
        connection = new StreamingConnection(response, protocol, request);
        break;
      case 'long-polling':
      case 'polling':
        connection = new PollConnection(response, protocol, request, protocol.transport);
        break;
    }
    const handshake = protocol.handshake;
    if (handshake && connection instanceof PollConnection) {
      // Long-polling: the handshake alone answers the first poll; the client polls again at once.
      const resource = this.#resourceFor(protocol, route, context, existing);
      connection.answer(this.#handshakeFrame(protocol, context.settings));
      this.#afterConnect(resource, route, existing === undefined || existing.state === 'closed');
      return;
    }
    const resource = this.#resourceFor(protocol, route, context, existing);
    if (handshake)
      connection.writeRaw(handshakeText(protocol.trackingId, context.settings.clientHeartbeatMs));
    this.#lastWrite.set(connection, Date.now());
    resource.attach(connection, protocol, context.settings);
    this.#afterConnect(resource, route, existing === undefined || existing.state === 'closed');
    resource.flush();
    if (connection instanceof PollConnection && connection.transport === 'polling' && connection.open) {
      // Plain polling never waits: what was pending has been written; complete now.
      setImmediate(() => connection.complete());
    }
  }

  #handshakeFrame(protocol: ProtocolRequest, settings: ConnectionSettings): string {
    const text = handshakeText(protocol.trackingId, settings.clientHeartbeatMs);
    return protocol.trackMessageLength ? lengthPrefixed(text) : text;
  }

  async #servePost(
    request: IncomingMessage,
    response: ServerResponse,
    protocol: ProtocolRequest,
  ): Promise<void> {
    if (!isOriginAllowed(this.#origins, request)) {
      request.resume();
      throw new AtmosphereError('ORIGIN_NOT_ALLOWED', `Origin ${request.headers.origin} is not allowed.`, {
        status: 403,
      });
    }
    const resource = protocol.firstRequest ? undefined : this.#resources.get(protocol.trackingId);
    if (!resource || resource.state === 'closed') {
      request.resume();
      throw new AtmosphereError(
        'UNKNOWN_TRACKING_ID',
        `No connection with tracking id ${protocol.firstRequest ? '(none given)' : protocol.trackingId}: open one (GET) before posting.`,
        { status: 404 },
      );
    }
    const body = protocol.postBody ?? (await readBody(request, resource.settings.maxMessageBytes));
    try {
      await this.#inboundQueued(resource, body);
    } catch (error) {
      // The poster gets the HTTP status; the handler hears about it too, as it would over WebSocket.
      const handler = this.#serviceOf.get(resource)?.handler as ManagedHandler | undefined;
      if (handler?.onError) {
        const known = AtmosphereError.isInstance(error) ? error : handlerFailed(error);
        this.#runHandler(resource, 'onError', () => handler.onError?.(known, resource));
      }
      throw error;
    }
    response.writeHead(200, responseHeaders(protocol, request));
    response.end();
  }

  #closeRequest(protocol: ProtocolRequest): void {
    const resource = protocol.firstRequest ? undefined : this.#resources.get(protocol.trackingId);
    if (!resource) return;
    this.logger.debug(`resource ${resource.id}: closed by the client (close request)`);
    resource.expire('client-closed');
  }

  // ----------------------------------------------------------------------------------------- WebSocket

  /** Upgrades the request when its path is an Atmosphere path; returns false (touching nothing) otherwise. */
  handleUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer): boolean {
    const route = this.#route(request.url);
    if (!route) return false;
    socket.on('error', (error) => this.logger.debug('upgrade socket error', { error: error.message }));
    this.#serveUpgrade(request, socket, head, route).catch((error: unknown) => {
      const known = AtmosphereError.isInstance(error);
      if (!known) this.logger.error('upgrade failed', { error });
      rejectUpgrade(
        socket,
        known ? (error.status ?? 400) : 500,
        known ? error.message : 'Internal Server Error',
        known ? error.headers : undefined,
      );
    });
    return true;
  }

  async #serveUpgrade(request: IncomingMessage, socket: Duplex, head: Buffer, route: Route): Promise<void> {
    if (this.#closing)
      throw new AtmosphereError('SHUTTING_DOWN', 'The server is shutting down.', { status: 503 });
    const protocol = parseProtocolRequest(request, true);
    if (protocol.transport !== 'websocket') {
      throw new AtmosphereError(
        'BAD_REQUEST',
        `An Upgrade request must use the websocket transport, not ${protocol.transport}.`,
        {
          status: 400,
        },
      );
    }
    const existing = this.#resources.get(protocol.trackingId);
    const context = await this.#connect(protocol, request, true, existing);
    if (socket.destroyed) return;
    upgradeRequests.set(request, protocol);
    this.#wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
      if (this.#closing) {
        ws.close(1001, 'Server shutting down');
        return;
      }
      const connection = new WebSocketConnection(ws, socket, protocol.trackMessageLength);
      const isNew = existing === undefined || existing.state === 'closed';
      const resource = this.#resourceFor(protocol, route, context, existing);
      connection.onConfirm = (seq) => resource.queue.confirm(seq);
      if (protocol.handshake) {
        connection.writeRaw(handshakeText(protocol.trackingId, context.settings.clientHeartbeatMs));
      }
      this.#lastWrite.set(connection, Date.now());
      ws.on('message', (data: Buffer, isBinary: boolean) => {
        if (resource.connection !== connection) return;
        this.#inboundQueued(resource, isBinary ? new Uint8Array(data) : data.toString('utf8')).catch(
          (error: unknown) => this.#inboundFailed(resource, error),
        );
      });
      const authenticate = context.authenticateFirstMessage;
      if (authenticate) {
        this.#pendingAuth.set(resource, authenticate);
        const timeout = setTimeout(() => {
          if (!this.#pendingAuth.has(resource)) return;
          resource.expire('server-closed', 4401, 'Unauthorized: no auth token');
        }, this.#options.auth?.firstMessageTimeoutMs ?? DEFAULT_FIRST_MESSAGE_TIMEOUT_MS);
        timeout.unref();
        resource.attach(connection, protocol, context.settings);
        return;
      }
      resource.attach(connection, protocol, context.settings);
      this.#afterConnect(resource, route, isNew);
      resource.flush();
    });
  }

  // ------------------------------------------------------------------------------------- shared paths

  async #connect(
    protocol: ProtocolRequest,
    raw: IncomingMessage,
    upgrade: boolean,
    existing: AtmosphereResource | undefined,
  ): Promise<ConnectContext> {
    const context: ConnectContext = {
      request: protocol,
      raw,
      upgrade,
      reconnect: existing !== undefined && existing.state !== 'closed',
      settings: {
        heartbeatMs: 0,
        clientHeartbeatMs: 0,
        maxMessageBytes: this.#maxMessageBytes,
        highWaterMark: 1000,
        backpressurePolicy: 'disconnect',
        idleTimeoutMs: 0,
      },
      principal: undefined,
      authenticateFirstMessage: undefined,
    };
    await runConnect(this.interceptors, context);
    return context;
  }

  #resourceFor(
    protocol: ProtocolRequest,
    route: Route,
    context: ConnectContext,
    existing: AtmosphereResource | undefined,
  ): AtmosphereResource {
    if (existing && existing.state !== 'closed') {
      if (context.principal !== undefined) existing.principal = context.principal;
      return existing;
    }
    const resource = new AtmosphereResource(
      protocol,
      route.params,
      context.settings,
      this.#cache.queue(protocol.trackingId),
      this,
    );
    resource.principal = context.principal;
    this.#resources.set(resource.id, resource);
    this.#serviceOf.set(resource, route.service);
    this.#away.add(resource);
    return resource;
  }

  /** Subscribes a new resource and runs `onReady` (which may write: after the handshake, before replays). */
  #afterConnect(resource: AtmosphereResource, route: Route, isNew: boolean): void {
    if (!isNew) return;
    this.#ready.add(resource);
    const service = route.service;
    if (service.options.subscribe) this.#broadcasterOf(resource, service).addResource(resource);
    const handler = service.handler as ManagedHandler;
    if (handler.onReady)
      this.#runHandler(resource, 'onReady', () =>
        handler.onReady?.(resource, this.#context(resource, service)),
      );
  }

  #broadcasterOf(resource: AtmosphereResource, service: ManagedServiceImpl) {
    return this.broadcasters.get(resource.path, service.options.broadcaster);
  }

  #context(resource: AtmosphereResource, service: ManagedServiceImpl): ManagedContext {
    // The path's broadcaster is looked up (and created) only when the handler uses it, so a path served
    // with `subscribe: false` does not leave an empty broadcaster behind per concrete path.
    const broadcaster = () => this.#broadcasterOf(resource, service);
    return {
      get broadcaster() {
        return broadcaster();
      },
      params: resource.params,
      broadcast: (message, options) => broadcaster().broadcast(message, options),
    };
  }

  #runHandler(resource: AtmosphereResource, hook: string, call: () => unknown): void {
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      this.logger.error(`handler ${hook} threw for resource ${resource.id}`, { error });
      return;
    }
    if (result instanceof Promise) {
      const tracked = result.catch((error: unknown) =>
        this.logger.error(`handler ${hook} failed for resource ${resource.id}`, { error }),
      );
      this.#handlerWork.add(tracked);
      void tracked.finally(() => this.#handlerWork.delete(tracked));
    }
  }

  /** Inbound messages of one resource are handled one at a time, in arrival order. */
  #inboundQueued(resource: AtmosphereResource, message: InboundPayload): Promise<void> {
    const previous = this.#inbound.get(resource);
    if (previous === undefined) {
      let result: void | Promise<void>;
      try {
        result = this.#inbound1(resource, message);
      } catch (error) {
        return Promise.reject(toError(error));
      }
      if (result === undefined) return Promise.resolve();
      return this.#trackInbound(resource, result);
    }
    return this.#trackInbound(
      resource,
      previous.then(() => this.#inbound1(resource, message)),
    );
  }

  #trackInbound(resource: AtmosphereResource, work: Promise<void>): Promise<void> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#inbound.set(resource, settled);
    this.#handlerWork.add(settled);
    void settled.then(() => {
      this.#handlerWork.delete(settled);
      if (this.#inbound.get(resource) === settled) this.#inbound.delete(resource);
    });
    return work;
  }

  #inbound1(resource: AtmosphereResource, message: InboundPayload): void | Promise<void> {
    if (resource.state === 'closed') return;
    resource.lastInboundAt = Date.now();
    const service = this.#serviceOf.get(resource);
    if (!service) return;
    const authenticate = this.#pendingAuth.get(resource);
    if (authenticate) return this.#authenticateFirst(resource, service, authenticate, message);
    if (message === PADDING_CHAR) {
      // The client's heartbeat: never reaches the handler.
      const handler = service.handler as ManagedHandler;
      if (handler.onHeartbeat)
        this.#runHandler(resource, 'onHeartbeat', () => handler.onHeartbeat?.(resource));
      return;
    }
    let target = service;
    let payload = message;
    if (typeof payload === 'string' && payload.startsWith('@@/')) {
      // `@@/sub/path@@message` addresses another managed path.
      const end = payload.indexOf('@@', 3);
      if (end !== -1) {
        const subPath = payload.slice(2, end);
        payload = payload.slice(end + 2);
        const route = this.#routes.match(subPath);
        if (!route)
          throw new AtmosphereError('NOT_FOUND', `No managed path matches ${subPath}.`, { status: 404 });
        target = route.value;
      }
    }
    const intercepted = runInbound(this.interceptors, payload, resource);
    if (intercepted instanceof Promise) {
      return intercepted.then((value) =>
        value === undefined ? undefined : this.#dispatch(resource, target, value),
      );
    }
    if (intercepted === undefined) return;
    return this.#dispatch(resource, target, intercepted);
  }

  async #authenticateFirst(
    resource: AtmosphereResource,
    service: ManagedServiceImpl,
    authenticate: (token: string) => Promise<unknown>,
    message: InboundPayload,
  ): Promise<void> {
    this.#pendingAuth.delete(resource);
    const token = typeof message === 'string' ? message : Buffer.from(message).toString('utf8');
    try {
      resource.principal = await authenticate(token);
    } catch (error) {
      this.logger.info(`resource ${resource.id}: first-message authentication refused`);
      resource.expire('server-closed', 4401, 'Unauthorized');
      throw error;
    }
    this.#afterConnect(resource, { service, params: { ...resource.params } }, true);
    resource.flush();
  }

  #dispatch(resource: AtmosphereResource, service: ManagedServiceImpl, payload: InboundPayload): void {
    const handler = service.handler as ManagedHandler;
    if (!handler.onMessage) return;
    let decoded: unknown = payload;
    if (service.options.codec === 'json') {
      const text = typeof payload === 'string' ? payload : Buffer.from(payload).toString('utf8');
      decoded = parseUntrustedJson(text, service.options.maxJsonDepth);
    }
    const context = this.#context(resource, service);
    let result: unknown;
    try {
      result = handler.onMessage(decoded, resource, context);
    } catch (error) {
      throw handlerFailed(error);
    }
    // The next message of this client does not wait for an async handler (it may be the answer the handler
    // waits for, such as a tool approval); handlers still start in arrival order.
    if (result instanceof Promise) {
      this.#background(
        resource,
        result.then(
          (value) => this.#broadcastResult(value, context),
          (error: unknown) => {
            throw handlerFailed(error);
          },
        ),
      );
      return;
    }
    const broadcast = this.#broadcastResult(result, context);
    if (broadcast) this.#background(resource, broadcast);
  }

  /** Work started by a message that the inbound queue does not wait for: tracked for shutdown, errors reported. */
  #background(resource: AtmosphereResource, work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => this.#inboundFailed(resource, error));
    this.#handlerWork.add(tracked);
    void tracked.finally(() => this.#handlerWork.delete(tracked));
  }

  #broadcastResult(value: unknown, context: ManagedContext): Promise<void> | undefined {
    if (value === undefined) return undefined;
    return context.broadcast(value);
  }

  #inboundFailed(resource: AtmosphereResource, error: unknown): void {
    const known = AtmosphereError.isInstance(error) ? error : handlerFailed(error);
    const connection = resource.connection;
    if (known.code === 'RATE_LIMITED') {
      this.logger.warn(`resource ${resource.id}: ${known.message}; closing`);
      connection?.end(1008, 'Rate limit exceeded');
      return;
    }
    if (known.code === 'MESSAGE_TOO_LARGE') {
      connection?.end(1009, 'Message too large');
      return;
    }
    if (known.code === 'UNAUTHORIZED') return;
    const service = this.#serviceOf.get(resource);
    const handler = service?.handler as ManagedHandler | undefined;
    if (handler?.onError) {
      this.#runHandler(resource, 'onError', () => handler.onError?.(known, resource));
      return;
    }
    if (known.code === 'HANDLER_FAILED')
      this.logger.error(`resource ${resource.id}: ${known.message}`, { error: known.cause });
    else this.logger.debug(`resource ${resource.id}: message refused: ${known.message}`);
    if (resource.state !== 'closed') {
      resource.write({
        type: 'error',
        code: known.code,
        message: known.code === 'HANDLER_FAILED' ? 'The server failed to handle the message.' : known.message,
      });
    }
  }

  // ---------------------------------------------------------------------------------------- lifecycle

  /** @internal */
  resourceAway(resource: AtmosphereResource, away: boolean): void {
    if (away) {
      this.#connected.delete(resource);
      this.#away.add(resource);
    } else {
      this.#away.delete(resource);
      this.#connected.add(resource);
    }
  }

  /** @internal */
  resourceClosed(resource: AtmosphereResource, reason: DisconnectReason): void {
    this.#connected.delete(resource);
    this.#away.delete(resource);
    this.#pendingAuth.delete(resource);
    if (this.#resources.get(resource.id) === resource) {
      this.#resources.delete(resource.id);
      this.#cache.forget(resource.id);
    }
    for (const interceptor of this.interceptors) {
      if (!interceptor.onDisconnect) continue;
      try {
        interceptor.onDisconnect(resource, reason);
      } catch (error) {
        this.logger.error(`interceptor ${interceptor.name}: onDisconnect threw`, { error });
      }
    }
    const service = this.#serviceOf.get(resource);
    const handler = service?.handler as ManagedHandler | undefined;
    if (service && handler?.onDisconnect && this.#ready.has(resource)) {
      this.#runHandler(resource, 'onDisconnect', () =>
        handler.onDisconnect?.(resource, reason, this.#context(resource, service)),
      );
    }
  }

  #tick(): void {
    const now = Date.now();
    for (const resource of this.#connected) {
      const connection = resource.connection;
      if (!connection) continue;
      const heartbeatMs = resource.settings.heartbeatMs;
      if (connection.wroteSinceCheck) {
        connection.wroteSinceCheck = false;
        this.#lastWrite.set(connection, now);
      } else if (heartbeatMs > 0 && now - (this.#lastWrite.get(connection) ?? now) >= heartbeatMs) {
        connection.heartbeat();
        this.#lastWrite.set(connection, now);
      }
      // A probe (ping carrying the last written number, confirmed by the pong) per batch or per age, not per
      // tick: one round trip confirms many messages. Only clients that report counts retain any.
      const unconfirmed = resource.queue.unconfirmed;
      if (
        unconfirmed.length > 0 &&
        (unconfirmed.length >= PROBE_BATCH || now - unconfirmed.peek()!.createdAt >= PROBE_AGE_MS) &&
        connection instanceof WebSocketConnection
      ) {
        connection.probe(resource.queue.writtenSeq);
      }
      const idle = resource.settings.idleTimeoutMs;
      if (idle > 0 && now - resource.lastInboundAt > idle) {
        this.logger.debug(`resource ${resource.id}: idle for ${idle} ms; closing`);
        resource.expire('idle', 1001, 'Idle timeout');
      }
    }
    for (const resource of this.#away) {
      if (resource.awaySince !== 0 && now - resource.awaySince > this.#graceMs) resource.expire('timeout');
    }
    if (now - this.#lastSweep >= this.#cache.limits.sweepIntervalMs) {
      this.#lastSweep = now;
      this.#cache.sweep(now);
    }
  }

  /** Who is who: the selection of each provider kind, paths, interceptors, counts. */
  describe(): AtmosphereDescription {
    const address = this.address();
    return {
      version: VERSION,
      address: address ? `${address.address}:${address.port}` : undefined,
      origins: describeOriginPolicy(this.#origins),
      paths: this.#routes.values().map((s) => s.path),
      interceptors: this.interceptors.map((i) => i.name),
      transports: BUILTIN_TRANSPORTS,
      providers: this.#selections,
      autoloaded: this.#autoloaded,
      resources: { connected: this.#connected.size, away: this.#away.size },
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
    const deadline = Date.now() + timeoutMs;
    if (this.#ticker) clearInterval(this.#ticker);
    this.#ticker = undefined;
    const serverClosed = this.#ownsServer
      ? new Promise<void>((resolve) => this.server.close(() => resolve()))
      : Promise.resolve();
    // Write what is pending while the sockets take it.
    for (const resource of this.#connected) resource.flush();
    await waitUntil(
      () => [...this.#connected].every((r) => r.queue.pending.length === 0 || !r.connection?.open),
      deadline,
    );
    for (const resource of [...this.#resources.values()])
      resource.expire('server-closed', 1001, 'Server shutting down');
    await Promise.race([
      Promise.allSettled([...this.#handlerWork]),
      delay(Math.max(0, deadline - Date.now())),
    ]);
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
    this.#wss.close();
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

const upgradeRequests = new WeakMap<IncomingMessage, ProtocolRequest>();

/** Unconfirmed messages that make a WebSocket client worth a delivery probe on the next tick. */
const PROBE_BATCH = 64;
/** Age of the oldest unconfirmed message that makes a probe worth it even for fewer messages. */
const PROBE_AGE_MS = 2_000;

function handlerFailed(error: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(error)) return error;
  return new AtmosphereError('HANDLER_FAILED', `The handler threw: ${toError(error).message}`, {
    status: 500,
    cause: error,
  });
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Answers a refused upgrade with a plain HTTP response and closes the socket. */
function rejectUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (socket.destroyed) return;
  const body = message;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({
      [Headers.error]: message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200),
      ...headers,
    }).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      request.resume();
      reject(tooLarge(declared, limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(tooLarge(undefined, limit));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
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
