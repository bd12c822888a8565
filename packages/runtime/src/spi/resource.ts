import type { TransportName } from '@atmosphere/protocol';
import type { ProtocolRequest } from './request.ts';

/** A client's state: writing live, away (between polls, or cut and within its grace period), or gone. */
export type ResourceState = 'connected' | 'away' | 'closed';

/** Why a resource was disconnected for good. */
export type DisconnectReason =
  /** The client closed: the close request, or a deliberate WebSocket close. */
  | 'client-closed'
  /** The connection was lost and the client did not come back within the grace period. */
  | 'timeout'
  /** No inbound activity for the idle timeout. */
  | 'idle'
  /** The server closed it (`resource.close()`, shutdown, a policy). */
  | 'server-closed';

/** What to do when a client has `highWaterMark` messages waiting to be written. */
export type BackpressurePolicy = 'drop-oldest' | 'drop-newest' | 'disconnect';

/** Per-connection settings, decided by the interceptor chain when the client connects. */
export interface ConnectionSettings {
  /** Server→client heartbeat interval; 0 = off. */
  heartbeatMs: number;
  /** How often the client must send its heartbeat (advertised in the handshake); 0 = never. */
  clientHeartbeatMs: number;
  /** Largest inbound message in bytes. */
  maxMessageBytes: number;
  /** Messages waiting to be written before the backpressure policy applies. */
  highWaterMark: number;
  /**
   * Bytes waiting for one client (its queue plus what its socket has not sent yet) before the backpressure
   * policy applies, whatever the number of messages.
   */
  maxPendingBytes: number;
  backpressurePolicy: BackpressurePolicy;
  /**
   * A connection with messages or bytes waiting for this long while its socket sends nothing is cut (the
   * client stopped reading), whatever the bounds above; 0 = off.
   */
  maxStallMs: number;
  /** Close after this long without inbound activity; 0 = off. */
  idleTimeoutMs: number;
}

/** The events of a resource. */
export interface ResourceEvents {
  /** The resource reconnected (a new connection for the same tracking id) after a cut. */
  reconnect: [];
  /** The connection was lost; the resource waits for the client within its grace period. */
  away: [];
  /** Closed for good; fires once. */
  disconnect: [reason: DisconnectReason];
  /** A message was dropped by the backpressure policy. */
  drop: [policy: BackpressurePolicy];
}

/** Something a resource is subscribed to (a broadcaster). */
export interface Subscription {
  readonly id: string;
  removeResource(resource: AtmosphereResource): void;
}

/**
 * One client, identified by its tracking id, across reconnections: what handlers, interceptors and filters
 * are handed. Its transport connection may come and go (long-polling between polls, a cut network): while
 * away, messages wait for it and are written, in order and before anything newer, when the same tracking id
 * reconnects. It disconnects for good on a deliberate close, or when it stays away longer than the grace
 * period.
 */
export interface AtmosphereResource {
  /** The tracking id. */
  readonly id: string;
  /** The request path it connected to. */
  readonly path: string;
  /** Path template parameters (`/chat/{room}` → `{ room }`). */
  readonly params: Readonly<Record<string, string>>;
  /** What an auth interceptor established about the client, if any. */
  principal: unknown;
  /** When the client last sent something (ms since epoch). */
  readonly lastInboundAt: number;
  /** When the resource's connection went away (ms since epoch), or 0 while connected. */
  readonly awaySince: number;
  /** The last connecting request. */
  readonly request: ProtocolRequest;
  readonly settings: Readonly<ConnectionSettings>;
  readonly state: ResourceState;
  /** The transport of the current (or last) connection. */
  readonly transport: TransportName;
  /** Application data: anything the handler wants to keep with this client. */
  readonly attributes: Map<string, unknown>;
  /** The broadcasters this resource is subscribed to. */
  readonly subscriptions: ReadonlySet<Subscription>;
  /**
   * True when the client reports how many messages it received (`X-Atmosphere-Received`): written messages
   * are then kept until it confirms them, and replayed exactly if it comes back without them.
   */
  readonly reportsReceived: boolean;
  /** Messages waiting to be written to this client (queued while it is away or its socket is congested). */
  readonly pending: number;
  on<K extends keyof ResourceEvents>(event: K, listener: (...args: ResourceEvents[K]) => void): this;
  off<K extends keyof ResourceEvents>(event: K, listener: (...args: ResourceEvents[K]) => void): this;
  /**
   * Writes a message to this client alone: strings and bytes as they are, anything else as JSON. It is
   * queued like a broadcast: it survives a cut connection and is replayed on reconnect. Throws `CLOSED` once
   * the resource is closed.
   */
  write(message: unknown): void;
  /**
   * Closes the client for good: ends its connection (WebSocket code `code`), unsubscribes it everywhere and
   * fires `disconnect` with reason `server-closed`. Idempotent.
   */
  close(code?: number, reason?: string): Promise<void>;
}
