import { type ClientTransportName, type StreamCursor, type StreamPosition } from '@atmosphere/protocol';
import type { AtmosphereClientError } from '../errors.ts';

/**
 * Where a subscription is: opening its first connection (`connecting`), open (`connected`), waiting to
 * reconnect or reconnecting (`reconnecting`), paused by `suspend()` (`suspended`), closed by `close()`
 * (`closed`), or given up after failed reconnects (`error`). `disconnected` is what bindings show before
 * a subscription exists.
 */
export type ConnectionState =
  'disconnected' | 'connecting' | 'connected' | 'reconnecting' | 'suspended' | 'closed' | 'error';

/**
 * One message from the server. `responseBody` is its text (or the bytes of a binary WebSocket frame).
 * `seq` counts the messages received for this tracking id, from 1: it is what the client reports as
 * `X-Atmosphere-Received`, so the server replays exactly what follows it.
 */
export class AtmosphereMessage {
  readonly responseBody: string | ArrayBuffer;
  readonly transport: ClientTransportName;
  readonly trackingId: string;
  readonly seq: number;
  /**
   * The message's stream (the broadcaster or room it came from) and its position there, when the server
   * sent one (the client asks for positions by default: option `positions`).
   */
  readonly position: StreamCursor | undefined;

  constructor(
    responseBody: string | ArrayBuffer,
    transport: ClientTransportName,
    trackingId: string,
    seq: number,
    position?: StreamCursor,
  ) {
    this.responseBody = responseBody;
    this.transport = transport;
    this.trackingId = trackingId;
    this.seq = seq;
    this.position = position;
  }

  /** The text of the message (bytes are decoded as UTF-8). */
  get text(): string {
    return typeof this.responseBody === 'string'
      ? this.responseBody
      : new TextDecoder().decode(this.responseBody);
  }

  /** The message parsed as JSON. Throws a `SyntaxError` when it is not JSON. */
  json<T = unknown>(): T {
    return JSON.parse(this.text) as T;
  }
}

/** A connection opened (`open`: the first one; `reopen`: after a lost one). */
export interface OpenEvent {
  readonly transport: ClientTransportName;
  readonly trackingId: string;
  /** True for a reconnection (`reopen`). */
  readonly reconnected: boolean;
}

/** An open connection ended. `reason`: lost (will reconnect unless disabled), or ended by `close()`/`suspend()`. */
export interface CloseEvent {
  readonly transport: ClientTransportName;
  readonly reason: 'lost' | 'closed' | 'suspended';
  readonly error: AtmosphereClientError | undefined;
}

/** A reconnect attempt is scheduled. */
export interface ReconnectEvent {
  /** 1 for the first attempt after a loss. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: AtmosphereClientError | undefined;
}

/** A transport could not open; the next one of the fallback chain is tried. */
export interface TransportFailureEvent {
  readonly transport: ClientTransportName;
  readonly next: ClientTransportName;
  readonly reason: string;
  readonly error: AtmosphereClientError;
}

/** Reconnection gave up: `attempts` in a row failed. The subscription is now in state `error`. */
export interface FailureToReconnectEvent {
  readonly attempts: number;
  readonly error: AtmosphereClientError | undefined;
}

/** No data arrived for `timeoutMs` (the `timeout` option): the connection is dropped and reconnected. */
export interface ClientTimeoutEvent {
  readonly transport: ClientTransportName;
  readonly timeoutMs: number;
}

/**
 * The server sent the durable-session token: `created` (a new session) or `resumed` (the one presented).
 * `refused` (`SESSION_INVALID`, `SESSION_FOREIGN_ORIGIN`) says the presented token was not honoured: the
 * session is new and what the server held for the old one (subscriptions, cursors) is gone.
 */
export interface SessionEvent {
  readonly token: string;
  readonly status: 'created' | 'resumed';
  readonly expiresAt: number;
  readonly refused?: string;
}

/** Every event of a subscription and its arguments. */
export interface SubscriptionEvents {
  open: [event: OpenEvent];
  reopen: [event: OpenEvent];
  message: [message: AtmosphereMessage];
  close: [event: CloseEvent];
  error: [error: AtmosphereClientError];
  reconnect: [event: ReconnectEvent];
  transportFailure: [event: TransportFailureEvent];
  failureToReconnect: [event: FailureToReconnectEvent];
  clientTimeout: [event: ClientTimeoutEvent];
  state: [state: ConnectionState];
  session: [event: SessionEvent];
  reset: [event: ResetEvent];
}

/**
 * The server could not send what this client missed of a stream (DURABILITY.md §1): its log no longer holds
 * it, or the stream's history was lost (a restart with the memory store, another epoch). Messages of
 * `stream` from `from` on, up to `resumeAt` (when the server knows it), never arrive: refetch what they
 * carried (room history by `sinceId`, a document, …). Always before any newer message of the stream.
 */
export interface ResetEvent {
  readonly stream: string;
  /** The first position the client did not get. */
  readonly from: StreamPosition;
  /** Where the stream resumes: the position of the next message of it the client gets, when known. */
  readonly resumeAt: StreamPosition | undefined;
  /** When the reset arrived (ms since epoch). */
  readonly at: number;
}

/** Handlers given to `subscribe()`: one optional function per event. */
export type SubscriptionHandlers = {
  [K in keyof SubscriptionEvents]?: (...args: SubscriptionEvents[K]) => void;
};

/** A snapshot of a subscription's connection, for status displays and diagnostics. */
export interface ConnectionStatus {
  readonly state: ConnectionState;
  /** The transport of the current (or last) connection. */
  readonly transport: ClientTransportName;
  /** `0` until the server assigned one. */
  readonly trackingId: string;
  /** Messages received for this tracking id (what `X-Atmosphere-Received` reports). */
  readonly received: number;
  /** Messages waiting to be sent. */
  readonly queued: number;
  /** Failed reconnect attempts in a row. */
  readonly reconnectAttempts: number;
  /** When the current connection opened (ms since epoch), or undefined while not connected. */
  readonly connectedAt: number | undefined;
  /** When the last data (message or heartbeat) arrived (ms since epoch). */
  readonly lastDataAt: number | undefined;
  /** Transports found not to work here (refused while another one worked). */
  readonly blockedTransports: readonly ClientTransportName[];
  readonly lastError: AtmosphereClientError | undefined;
  /** The last reset the server sent (a gap it could not fill), if any. */
  readonly lastReset: ResetEvent | undefined;
  /** The last position received of each stream: what the client presents when it reconnects. */
  readonly cursors: readonly StreamCursor[];
}
