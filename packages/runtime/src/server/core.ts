import type { IncomingMessage } from 'node:http';
import type { BroadcasterFactory } from '../broadcast/factory.ts';
import type { ClientQueues } from '../delivery/client-queue.ts';
import { EncodedMessage } from '../delivery/encoded-message.ts';
import type { ClientResource, OutboundHook, ResourceHost } from '../delivery/resource.ts';
import { resumeExisting } from '../delivery/resume.ts';
import { runConnect } from '../interceptors/chain.ts';
import type { ManagedContext } from '../managed.ts';
import type { AtmosphereInterceptor, ConnectContext, InboundPayload } from '../spi/interceptor.ts';
import type { Logger } from '../spi/logger.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type { DisconnectReason } from '../spi/resource.ts';
import type { SessionStore } from '../spi/session-store.ts';
import type { StreamLog } from '../spi/stream-log.ts';
import { bindSession, type SessionBinding, sessionFrame } from '../session/session-binding.ts';
import { Inbound, type InboundHost } from './inbound.ts';
import { PathTable } from './path-template.ts';
import { type ManagedServiceImpl, type Route, ServedResource } from './served-resource.ts';

/** Raw request paths whose route is remembered at most (past it, the memory starts over). */
const ROUTE_CACHE_SIZE = 1024;

/** What the core is made of; the Atmosphere instance decides it from its options and providers. */
export interface CoreParts {
  logger: Logger;
  interceptors: readonly AtmosphereInterceptor[];
  cache: ClientQueues;
  log: StreamLog;
  broadcasters: BroadcasterFactory;
  maxMessageBytes: number;
  graceMs: number;
  /** Where durable sessions are kept (the `session-store` provider); absent = no sessions. */
  sessions?: SessionStore | undefined;
}

/**
 * The state every serving path shares — routes, resources by tracking id, work still running — and the connect pipeline they all go through: interceptors, the resource for the
 * tracking id, subscription and `onReady`. It is each resource's host, so resources report to it directly.
 */
export class ServerCore implements ResourceHost, InboundHost {
  readonly logger: Logger;
  readonly interceptors: readonly AtmosphereInterceptor[];
  /** Outbound hooks of the interceptors, last interceptor first. */
  readonly outbound: OutboundHook[];
  readonly routes = new PathTable<ManagedServiceImpl>();
  /** Every resource not closed for good, connected or away, by tracking id. */
  readonly resources = new Map<string, ServedResource>();
  /** Handler calls and inbound work still running: the shutdown waits for them. */
  readonly work = new Set<Promise<unknown>>();
  readonly cache: ClientQueues;
  readonly log: StreamLog;
  readonly broadcasters: BroadcasterFactory;
  readonly maxMessageBytes: number;
  readonly graceMs: number;
  /** Inbound messages: ordering, interceptors, codec, handler. */
  readonly receiver: Inbound;
  /** Set when the shutdown begins: new connections are refused (503). */
  closing = false;
  readonly sessions: SessionStore | undefined;
  readonly #routeCache = new Map<string, Route | null>();
  /** Sessions bound while connecting, until `afterConnect` hands them to their resource. */
  readonly #bindings = new WeakMap<ProtocolRequest, SessionBinding>();
  /** The session token of each resource bound to one. */
  readonly #sessionOf = new WeakMap<ClientResource, string>();

  constructor(parts: CoreParts) {
    this.logger = parts.logger;
    this.interceptors = parts.interceptors;
    this.cache = parts.cache;
    this.log = parts.log;
    this.broadcasters = parts.broadcasters;
    this.maxMessageBytes = parts.maxMessageBytes;
    this.graceMs = parts.graceMs;
    this.sessions = parts.sessions;
    this.outbound = parts.interceptors
      .filter((interceptor) => interceptor.onOutbound !== undefined)
      .reverse()
      .map(
        (interceptor) => (message, resource) =>
          outboundResult(message, interceptor.onOutbound!(message, resource)),
      );
    this.receiver = new Inbound(this);
  }

  /** Registers a managed path. */
  addRoute(path: string, service: ManagedServiceImpl): void {
    this.routes.add(path, service);
    this.#routeCache.clear();
  }

  /** Unregisters a managed path: new requests for it get 404. */
  removeRoute(path: string): void {
    this.routes.remove(path);
    this.#routeCache.clear();
  }

  /**
   * The managed path a request URL goes to, if any (the query string is ignored). Each poll of a
   * long-polling client asks again for the same path, so answers are remembered by raw path (a bounded
   * number; null for paths that are not managed).
   */
  route(url: string | undefined): Route | undefined {
    if (this.routes.size === 0) return undefined;
    const raw = url ?? '/';
    const queryStart = raw.indexOf('?');
    const rawPath = queryStart === -1 ? raw : raw.slice(0, queryStart);
    const cached = this.#routeCache.get(rawPath);
    if (cached !== undefined) return cached ?? undefined;
    let route: Route | null = null;
    try {
      const path = decodeURIComponent(rawPath);
      const match = this.routes.match(path);
      if (match) route = Object.freeze({ service: match.value, params: Object.freeze(match.params), path });
    } catch {
      route = null;
    }
    if (this.#routeCache.size >= ROUTE_CACHE_SIZE) this.#routeCache.clear();
    this.#routeCache.set(rawPath, route);
    return route ?? undefined;
  }

  /**
   * Runs the `onConnect` interceptors for a connecting request (on every request: origin, auth and limits
   * are checked each time). Synchronous unless an interceptor is not, so a poll costs no extra turn.
   */
  connect(
    protocol: ProtocolRequest,
    raw: IncomingMessage,
    upgrade: boolean,
    existing: ClientResource | undefined,
  ): ConnectContext | Promise<ConnectContext> {
    const context: ConnectContext = {
      request: protocol,
      raw,
      upgrade,
      reconnect: existing !== undefined && existing.state !== 'closed',
      settings: {
        heartbeatMs: 0,
        clientHeartbeatMs: 0,
        maxMessageBytes: this.maxMessageBytes,
        highWaterMark: 1000,
        maxPendingBytes: 1024 * 1024,
        backpressurePolicy: 'disconnect',
        idleTimeoutMs: 0,
      },
      principal: undefined,
      authenticateFirstMessage: undefined,
    };
    const pending = runConnect(this.interceptors, context);
    if (pending !== undefined)
      return pending.then(() => this.#bind(protocol, raw, existing)).then(() => context);
    const binding = this.#bind(protocol, raw, existing);
    return binding === undefined ? context : binding.then(() => context);
  }

  /**
   * The session step of connecting (DURABILITY.md §5), after the interceptors: a request that asks for a
   * session (`X-Atmosphere-Session-Token`) gets one created or resumed (a refused token gets a new one, and
   * the session frame says why). A store that fails fails the connection.
   */
  #bind(
    protocol: ProtocolRequest,
    raw: IncomingMessage,
    existing: ClientResource | undefined,
  ): void | Promise<void> {
    const store = this.sessions;
    if (store === undefined) return;
    if (existing !== undefined && existing.state !== 'closed' && this.#sessionOf.has(existing)) return;
    const bound = (binding: SessionBinding | undefined): void => {
      if (binding !== undefined) this.#bindings.set(protocol, binding);
    };
    const result = bindSession(store, protocol, raw);
    if (result instanceof Promise) return result.then(bound);
    bound(result);
  }

  /**
   * The session frame of a connecting request that was bound to a session: the serving code writes it right
   * after the handshake, outside the message queue (like the handshake, it is not a counted message).
   */
  sessionFrameFor(protocol: ProtocolRequest): string | undefined {
    const binding = this.#bindings.get(protocol);
    return binding === undefined ? undefined : sessionFrame(binding);
  }

  /** The session token a resource is bound to, if any. */
  sessionTokenOf(resource: ClientResource): string | undefined {
    return this.#sessionOf.get(resource);
  }

  /** The resource of the tracking id when it is still open, else a new one (away until attached). */
  resourceFor(
    protocol: ProtocolRequest,
    route: Route,
    context: Pick<ConnectContext, 'settings' | 'principal'>,
    existing: ServedResource | undefined,
  ): ServedResource {
    if (existing && existing.state !== 'closed') {
      if (context.principal !== undefined) existing.principal = context.principal;
      return existing;
    }
    const resource = new ServedResource(
      protocol,
      route,
      context.settings,
      this.cache.queue(protocol.trackingId),
      this,
    );
    resource.principal = context.principal;
    this.resources.set(resource.id, resource);
    return resource;
  }

  /** Subscribes a new resource and runs `onReady` (which may write: after the handshake, before replays). */
  afterConnect(resource: ServedResource, route: Route, isNew: boolean): void {
    const binding = this.#bindings.get(resource.request);
    if (binding !== undefined) {
      this.#bindings.delete(resource.request);
      this.#sessionOf.set(resource, binding.record.token);
    }
    if (!isNew) {
      // A client that came back to its resource: each stream it presents a cursor of resumes from its queue
      // when the queue lost nothing of it, else from the log (or it is told with a reset).
      if (resource.positions)
        for (const subscription of resource.subscriptions) {
          const cursor = resource.takeCursor(subscription.id);
          if (cursor !== undefined) resumeExisting(resource, subscription.id, cursor, this.log, this.logger);
        }
      return;
    }
    resource.ready = true;
    const service = route.service;
    if (service.options.subscribe) this.#broadcasterOf(resource, service).addResource(resource);
    const handler = service.hooks;
    if (handler.onReady)
      this.runHandler(resource, 'onReady', () =>
        handler.onReady?.(resource, this.context(resource, service)),
      );
  }

  #broadcasterOf(resource: ClientResource, service: ManagedServiceImpl) {
    return this.broadcasters.get(resource.path, service.options.broadcaster);
  }

  /** What a handler call gets besides the resource. */
  context(resource: ServedResource, service: ManagedServiceImpl): ManagedContext {
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

  /** Calls a handler hook; a throw or a rejection is logged, and a promise is waited for on shutdown. */
  runHandler(resource: ClientResource, hook: string, call: () => unknown): void {
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
      this.work.add(tracked);
      void tracked.finally(() => this.work.delete(tracked));
    }
  }

  // ------------------------------------------------------------------------------- resource host

  resourceClosed(resource: ServedResource, reason: DisconnectReason): void {
    resource.pendingAuth = undefined;
    if (this.resources.get(resource.id) === resource) {
      this.resources.delete(resource.id);
      this.cache.forget(resource.id);
    }
    for (const interceptor of this.interceptors) {
      if (!interceptor.onDisconnect) continue;
      try {
        interceptor.onDisconnect(resource, reason);
      } catch (error) {
        this.logger.error(`interceptor ${interceptor.name}: onDisconnect threw`, { error });
      }
    }
    const service = resource.service;
    const handler = service.hooks;
    if (handler.onDisconnect && resource.ready) {
      this.runHandler(resource, 'onDisconnect', () =>
        handler.onDisconnect?.(resource, reason, this.context(resource, service)),
      );
    }
  }

  inbound(resource: ServedResource, message: InboundPayload): void {
    this.receiver.receive(resource, message);
  }
}

/** What an outbound interceptor returned, as the message to deliver: a payload is serialised for this resource. */
function outboundResult(
  message: EncodedMessage,
  result: ReturnType<NonNullable<AtmosphereInterceptor['onOutbound']>>,
): EncodedMessage | undefined {
  if (result === undefined || result === message) return result === undefined ? undefined : message;
  if (result instanceof EncodedMessage) return result;
  if (typeof result === 'string' || result instanceof Uint8Array) {
    const replacement = new EncodedMessage(result, message.source);
    replacement.position = message.position;
    return replacement;
  }
  // Another implementation of the message contract: its payload is what counts.
  const replacement = new EncodedMessage(result.payload, result.source);
  replacement.position = result.position;
  return replacement;
}
