import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Broadcaster, BroadcasterOptions, BroadcastOptions } from './broadcast/broadcaster.ts';
import type { AtmosphereError } from './errors.ts';
import type { AtmosphereResource, DisconnectReason } from './spi/resource.ts';

/** What every handler call gets besides the resource. */
export interface ManagedContext {
  /** The broadcaster of the resource's path (`/chat/lobby` for a resource on `/chat/{room}`). */
  readonly broadcaster: Broadcaster;
  /** Path template parameters. */
  readonly params: Readonly<Record<string, string>>;
  /** Broadcasts on the path's broadcaster. */
  broadcast(message: unknown, options?: BroadcastOptions): Promise<void>;
}

/**
 * The handler of a managed path. Every hook may be async. Messages from one client reach `onMessage` in
 * arrival order; an async `onMessage` does not hold up the next message (which may be the very answer it
 * waits for), and an HTTP post is answered once `onMessage` has been called, not when its promise settles.
 * A value returned (or resolved) by `onMessage` other than `undefined` is broadcast to the path's
 * broadcaster, as Atmosphere's `@Message` does; a rejection reaches `onError`.
 */
export interface ManagedHandler<In = unknown> {
  /** A new client connected (once per tracking id: not on each poll, not on a reconnect within the grace period). */
  onReady?(resource: AtmosphereResource, context: ManagedContext): void | Promise<void>;
  /** A message from the client, decoded by the codec. */
  onMessage?(message: In, resource: AtmosphereResource, context: ManagedContext): unknown;
  /** The client left for good. Fires once. */
  onDisconnect?(
    resource: AtmosphereResource,
    reason: DisconnectReason,
    context: ManagedContext,
  ): void | Promise<void>;
  /** The client's heartbeat arrived. */
  onHeartbeat?(resource: AtmosphereResource): void;
  /**
   * A message was refused (invalid JSON, too large, rate limited) or `onMessage` threw. Default: the client
   * gets `{"type":"error","code":…,"message":…}` (internal errors are not detailed) and the error is logged.
   */
  onError?(error: AtmosphereError, resource: AtmosphereResource): void;
}

export interface ManagedOptions {
  /** How messages from clients are decoded: `json` (default; untrusted-JSON rules apply) or `text`. */
  codec?: 'json' | 'text';
  /** Subscribe each resource to its path's broadcaster. Default true. */
  subscribe?: boolean;
  /** Options of the broadcasters created for this path. Default: destroyed when empty. */
  broadcaster?: BroadcasterOptions;
  /** Deepest JSON nesting accepted. Default 64. */
  maxJsonDepth?: number;
}

/** A registered managed path. */
export interface ManagedService {
  readonly path: string;
  readonly handler: ManagedHandler<never>;
  readonly options: Readonly<Required<Omit<ManagedOptions, 'broadcaster'>>> & {
    broadcaster: BroadcasterOptions;
  };
  /** Unregisters the path: new requests get 404; connected clients stay. */
  remove(): void;
}

/**
 * A handler for plain HTTP on a path of the Atmosphere server ({@link Atmosphere.handle}). `params` are the
 * path template's parameters. It owns the request: it answers, and checks origin, auth and limits itself.
 */
export interface HttpRouteHandler {
  request?(
    request: IncomingMessage,
    response: ServerResponse,
    params: Readonly<Record<string, string>>,
  ): void | Promise<void>;
  upgrade?(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    params: Readonly<Record<string, string>>,
  ): void;
  /**
   * The server is shutting down: end what the route holds open (sessions, streams). Awaited (within the
   * shutdown deadline) before the providers close; from then on the route's requests are answered 503.
   */
  close?(): void | Promise<void>;
}

/** A registered plain HTTP route. */
export interface HttpRoute {
  readonly path: string;
  /** Unregisters the route: new requests for it are no longer served. */
  remove(): void;
}
