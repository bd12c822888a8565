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
import type { ConnectionSettings, DisconnectReason } from '../spi/resource.ts';
import type { SessionStore } from '../spi/session-store.ts';
import type { StreamLog } from '../spi/stream-log.ts';
import type { TraceSpan } from '../spi/tracing.ts';
import { NO_TELEMETRY, type RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import { ChurnMap } from '../util/churn-map.ts';
import { WarningThrottle } from '../util/warning-throttle.ts';
import { bindSession, type SessionBinding, sessionFrame } from '../session/session-binding.ts';
import { Inbound, type InboundHost } from './inbound.ts';
import { PathTable } from './path-template.ts';
import { type ManagedServiceImpl, type Route, ServedResource } from './served-resource.ts';
import { InFlight } from '../util/in-flight.ts';

/** Raw request paths whose route is remembered at most (past it, the memory starts over). */
const ROUTE_CACHE_SIZE = 1024;

/**
 * The server-wide cap on clients away after a lost or cut connection (AtmosphereOptions `away`): past either
 * limit the clients away longest are ended first, their grace period cut short.
 */
export interface AwayLimits {
  /** Clients away at once. Default 10 000. */
  maxResources: number;
  /** Bytes queued for them, in all. Default 64 MiB. */
  maxBytes: number;
}

export const DEFAULT_AWAY_LIMITS: Readonly<AwayLimits> = Object.freeze({
  maxResources: 10_000,
  maxBytes: 64 * 1024 * 1024,
});

/** What the core is made of; the Atmosphere instance decides it from its options and providers. */
export interface CoreParts {
  logger: Logger;
  interceptors: readonly AtmosphereInterceptor[];
  cache: ClientQueues;
  log: StreamLog;
  broadcasters: BroadcasterFactory;
  maxMessageBytes: number;
  graceMs: number;
  away: AwayLimits;
  /** Where durable sessions are kept (the `session-store` provider); absent = no sessions. */
  sessions?: SessionStore | undefined;
  /** The selected metrics and tracing providers' instruments; absent = none. */
  telemetry?: RuntimeTelemetry;
}

/**
 * The state every serving path shares — routes, resources by tracking id, work still running — and the connect pipeline they all go through: interceptors, the resource for the
 * tracking id, subscription and `onReady`. It is each resource's host, so resources report to it directly.
 */
export class ServerCore implements ResourceHost, InboundHost {
  readonly logger: Logger;
  /**
   * Warnings that come in floods (clients evicted by the away cap, slow clients cut): the first of a kind
   * is logged, the rest counted and reported (the ticker flushes the counts, and the shutdown).
   */
  readonly warnings: WarningThrottle;
  readonly interceptors: readonly AtmosphereInterceptor[];
  /** Outbound hooks of the interceptors, last interceptor first. */
  readonly outbound: OutboundHook[];
  readonly routes = new PathTable<ManagedServiceImpl>();
  /**
   * Every resource not closed for good, connected or away, by tracking id. A `ChurnMap`, not a `Map`: a
   * flood of refused connections would otherwise keep each one's objects through two young-generation
   * collections (see `ChurnMap`).
   */
  readonly resources = new ChurnMap<ServedResource>();
  /** Handler calls and inbound work still running: the shutdown waits for them. */
  readonly work = new InFlight();
  readonly cache: ClientQueues;
  readonly log: StreamLog;
  readonly broadcasters: BroadcasterFactory;
  readonly maxMessageBytes: number;
  readonly graceMs: number;
  readonly awayLimits: AwayLimits;
  /** Clients away after a lost or cut connection (or a long-polling handshake), the longest away first. */
  readonly away = new Set<ServedResource>();
  /** Clients ended by the away cap since the start. */
  awayEvicted = 0;
  /** Inbound messages: ordering, interceptors, codec, handler. */
  readonly receiver: Inbound;
  /** Set when the shutdown begins: new connections are refused (503). */
  closing = false;
  readonly sessions: SessionStore | undefined;
  readonly telemetry: RuntimeTelemetry;
  /** The connect span of each connecting request, while tracing is on, until `afterConnect` ends it. */
  readonly #connectSpans = new WeakMap<ProtocolRequest, TraceSpan>();
  readonly #routeCache = new Map<string, Route | null>();
  /** Sessions bound while connecting, until `afterConnect` hands them to their resource. */
  readonly #bindings = new WeakMap<ProtocolRequest, SessionBinding>();
  /** The session token of each resource bound to one. */
  readonly #sessionOf = new WeakMap<ClientResource, string>();
  /** Settings connections ended up with lately, frozen: later connections with equal values share them. */
  readonly #settings: Readonly<ConnectionSettings>[] = [];

  constructor(parts: CoreParts) {
    this.logger = parts.logger;
    this.warnings = new WarningThrottle(parts.logger);
    this.interceptors = parts.interceptors;
    this.cache = parts.cache;
    this.log = parts.log;
    this.broadcasters = parts.broadcasters;
    this.maxMessageBytes = parts.maxMessageBytes;
    this.graceMs = parts.graceMs;
    this.awayLimits = parts.away;
    this.sessions = parts.sessions;
    this.telemetry = parts.telemetry ?? NO_TELEMETRY;
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
        maxStallMs: 30_000,
        idleTimeoutMs: 0,
      },
      principal: undefined,
      authenticateFirstMessage: undefined,
    };
    if (this.telemetry.tracingOn) return this.#tracedConnect(protocol, context, raw, existing);
    const pending = runConnect(this.interceptors, context);
    if (pending !== undefined)
      return pending.then(() => this.#bind(protocol, raw, existing)).then(() => context);
    const binding = this.#bind(protocol, raw, existing);
    return binding === undefined ? context : binding.then(() => context);
  }

  /** `connect` with a span, from the request to the end of `afterConnect` (or the refusal). */
  #tracedConnect(
    protocol: ProtocolRequest,
    context: ConnectContext,
    raw: IncomingMessage,
    existing: ClientResource | undefined,
  ): ConnectContext | Promise<ConnectContext> {
    const span = this.telemetry.tracing.startSpan('atmosphere.connect', {
      'atmosphere.resource.uuid': protocol.trackingId,
      'atmosphere.transport': protocol.transport,
      'atmosphere.action': context.reconnect ? 'reconnect' : 'connect',
    });
    const refused = (error: unknown): never => {
      span.recordError(error);
      span.end();
      throw error;
    };
    let result: void | Promise<void>;
    try {
      const pending = runConnect(this.interceptors, context);
      result =
        pending !== undefined
          ? pending.then(() => this.#bind(protocol, raw, existing))
          : this.#bind(protocol, raw, existing);
    } catch (error) {
      return refused(error);
    }
    this.#connectSpans.set(protocol, span);
    if (result === undefined) return context;
    return result.then(() => context, refused);
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

  /**
   * The settings a connection keeps, once the interceptors decided them: a frozen object shared with every
   * connection that ended up with the same values (nearly all of them), instead of one per connection.
   */
  sharedSettings(settings: Readonly<ConnectionSettings>): Readonly<ConnectionSettings> {
    const known = this.#settings;
    for (const candidate of known)
      if (candidate === settings || sameSettings(candidate, settings)) return candidate;
    // A few kinds at most (one per route or policy); a server that makes more keeps the newest.
    if (known.length >= SHARED_SETTINGS) known.shift();
    known.push(Object.isFrozen(settings) ? settings : Object.freeze({ ...settings }));
    return known[known.length - 1]!;
  }

  /** The resource of the tracking id when it is still open, else a new one (away until attached). */
  resourceFor(
    protocol: ProtocolRequest,
    route: Route,
    settings: Readonly<ConnectionSettings>,
    principal: unknown,
    existing: ServedResource | undefined,
  ): ServedResource {
    if (existing && existing.state !== 'closed') {
      if (principal !== undefined) existing.principal = principal;
      return existing;
    }
    const resource = new ServedResource(
      protocol,
      route,
      settings,
      this.cache.queue(protocol.trackingId),
      this,
    );
    if (this.telemetry.metricsOn) this.telemetry.connected(protocol.transport);
    resource.principal = principal;
    this.resources.set(resource.id, resource);
    return resource;
  }

  /** Subscribes a new resource and runs `onReady` (which may write: after the handshake, before replays). */
  afterConnect(resource: ServedResource, route: Route, isNew: boolean): void {
    if (this.telemetry.tracingOn) {
      const span = this.#connectSpans.get(resource.request);
      if (span !== undefined) {
        this.#connectSpans.delete(resource.request);
        span.end();
      }
    }
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
      this.work.track(tracked);
    }
  }

  // ------------------------------------------------------------------------------- resource host

  resourceAway(resource: ServedResource): void {
    // Moved to the end: the longest away are first.
    this.away.delete(resource);
    this.away.add(resource);
    resource.queue.away = true;
    this.enforceAwayLimits();
  }

  resourceReturned(resource: ServedResource): void {
    this.away.delete(resource);
    resource.queue.away = false;
  }

  /**
   * Ends the clients away longest while more are away than `maxResources`, or their queues hold more than
   * `maxBytes`: a flood of connections that drop (or are cut) cannot pin memory for the whole grace period.
   */
  enforceAwayLimits(): void {
    const limits = this.awayLimits;
    if (this.away.size <= limits.maxResources && this.cache.awayBytes <= limits.maxBytes) return;
    let evicted = 0;
    for (const resource of this.away) {
      if (this.away.size <= limits.maxResources && this.cache.awayBytes <= limits.maxBytes) break;
      evicted++;
      resource.expire('timeout', 1001, 'Away too long');
    }
    this.awayEvicted += evicted;
    this.warnings.warn(
      'away-cap',
      `${evicted} client(s) away ended early: over the away cap (${this.away.size} away, ${this.cache.awayBytes} bytes queued; limits ${limits.maxResources}, ${limits.maxBytes})`,
    );
  }

  resourceClosed(resource: ServedResource, reason: DisconnectReason): void {
    resource.pendingAuth = undefined;
    if (this.away.delete(resource)) resource.queue.away = false;
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

/** Kinds of connection settings shared at most (`sharedSettings`). */
const SHARED_SETTINGS = 8;

function sameSettings(a: Readonly<ConnectionSettings>, b: Readonly<ConnectionSettings>): boolean {
  return (
    a.heartbeatMs === b.heartbeatMs &&
    a.clientHeartbeatMs === b.clientHeartbeatMs &&
    a.maxMessageBytes === b.maxMessageBytes &&
    a.highWaterMark === b.highWaterMark &&
    a.maxPendingBytes === b.maxPendingBytes &&
    a.backpressurePolicy === b.backpressurePolicy &&
    a.maxStallMs === b.maxStallMs &&
    a.idleTimeoutMs === b.idleTimeoutMs
  );
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
