const BRAND = Symbol.for('@atmosphere/client.error');

/** Every error code the client raises. Codes are stable; messages may change. */
export type AtmosphereClientErrorCode =
  /** A transport could not open (refused upgrade, network error, non-2xx answer). */
  | 'TRANSPORT_FAILED'
  /** No connection (or handshake) within `connectTimeout`. */
  | 'CONNECT_TIMEOUT'
  /** An open connection was lost (network cut, server gone). */
  | 'CONNECTION_LOST'
  /** The server sent something that is not the Atmosphere protocol (bad length prefix, bad handshake). */
  | 'PROTOCOL_ERROR'
  /** A message longer than `maxMessageSize`. */
  | 'MESSAGE_TOO_LARGE'
  /** The server answered with an HTTP error status (`status` says which). */
  | 'HTTP_ERROR'
  /** The server closed the connection with an error (an SSE `event:error`, a WebSocket close code ≥ 4000). */
  | 'SERVER_ERROR'
  /** Reconnection gave up after `maxReconnectOnClose` attempts. */
  | 'RECONNECT_EXHAUSTED'
  /** A message could not be sent and was dropped (`status` says why when the server refused it). */
  | 'SEND_FAILED'
  /** The offline queue was full: the oldest queued message was dropped. */
  | 'QUEUE_FULL'
  /** The subscription (or client) is closed. */
  | 'CLOSED'
  /** An option is invalid; the message names it. */
  | 'INVALID_OPTION'
  /** No transport of the chain can run here (e.g. no WebSocket and no fetch). */
  | 'UNSUPPORTED_TRANSPORT'
  /** The operation was aborted through its `signal`. */
  | 'ABORTED';

/**
 * The machine-readable code a server gave with a refusal — on a room's `error` frame (PROTOCOL.md §8): `FORBIDDEN`
 * (the connection's role may not), `NOT_FOUND` (no such AI member), `UNKNOWN_RUN` (no such answer running),
 * `UNKNOWN_APPROVAL` (no such approval pending: answered already, or expired), `INVALID_PROMPT`, `INTERNAL`; a
 * server-side member of the application may refuse with codes of its own.
 */
export type ServerErrorCode =
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UNKNOWN_RUN'
  | 'UNKNOWN_APPROVAL'
  | 'INVALID_PROMPT'
  | 'INTERNAL'
  | (string & {});

/** Extra details of an {@link AtmosphereClientError}. */
export interface AtmosphereClientErrorOptions {
  /** The HTTP status, when the error comes from an HTTP answer. */
  status?: number;
  /** The server's code for a refusal ({@link ServerErrorCode}). */
  serverCode?: ServerErrorCode | undefined;
  cause?: unknown;
}

/**
 * The one error class of `@atmosphere/client`. `code` is stable and machine-readable; `message` says what
 * failed, why, and which option fixes it. Use {@link AtmosphereClientError.isInstance} rather than
 * `instanceof`, so errors from a duplicate copy of the package are recognised.
 */
export class AtmosphereClientError extends Error {
  // Declared, not defined: the constructor sets them (no field definitions in the bundle).
  declare readonly code: AtmosphereClientErrorCode;
  declare readonly status: number | undefined;
  /**
   * With `SERVER_ERROR` for a refusal the server explained with a code (a room's `error` frame: `FORBIDDEN`,
   * `UNKNOWN_RUN`, `UNKNOWN_APPROVAL`…), that code; else undefined.
   */
  declare readonly serverCode: ServerErrorCode | undefined;

  constructor(code: AtmosphereClientErrorCode, message: string, options: AtmosphereClientErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AtmosphereClientError';
    this.code = code;
    this.status = options.status;
    this.serverCode = options.serverCode;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any AtmosphereClientError, including one thrown by another copy of this package. */
  static isInstance(value: unknown): value is AtmosphereClientError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Turns anything thrown into an Error. */
export function toError(value: unknown): Error {
  return value instanceof Error ? value : new Error(String(value));
}
