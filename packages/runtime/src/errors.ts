const BRAND = Symbol.for('@atmosphere/error');

/**
 * The error-code vocabulary, one documented key per code. Codes are stable; messages may change. A package
 * that raises a code of its own declares it by augmenting this interface
 * (`declare module '@atmosphere/runtime' { interface AtmosphereErrorCodes { MY_CODE: true } }`), so that every
 * code in use is listed somewhere and a typo does not compile.
 */
export interface AtmosphereErrorCodes {
  /** The request or message is malformed (a missing parameter, a bad room name, a frame that does not parse). */
  BAD_REQUEST: true;
  /** `X-Atmosphere-Transport` names no transport the server serves. */
  UNKNOWN_TRANSPORT: true;
  /** The client speaks a protocol version the server does not. */
  UNSUPPORTED_PROTOCOL_VERSION: true;
  /** The request's `Origin` is not on the allow-list. */
  ORIGIN_NOT_ALLOWED: true;
  /** The request's `Host` is not one the server answers (`allowedHosts`): DNS rebinding, a misrouted request. */
  HOST_NOT_ALLOWED: true;
  /** The auth hook refused the connection or the credential is missing or expired. */
  UNAUTHORIZED: true;
  /** Authenticated, but not allowed to do this (join this room, stop another user's run). */
  FORBIDDEN: true;
  /** Nothing is served at this path. */
  NOT_FOUND: true;
  /** A request names a tracking id the server does not know (long-poll or POST after the session expired). */
  UNKNOWN_TRACKING_ID: true;
  /** A message or request body is over its size limit. */
  MESSAGE_TOO_LARGE: true;
  /** Too many messages or requests in the window. */
  RATE_LIMITED: true;
  /** A JSON body or message does not parse, is too deep, or carries forbidden keys. */
  INVALID_JSON: true;
  /** An application handler threw. */
  HANDLER_FAILED: true;
  /** A broadcast filter threw. */
  FILTER_FAILED: true;
  /** A client could not keep up and was cut or lost messages under its backpressure policy. */
  BACKPRESSURE: true;
  /** The server is shutting down and accepts nothing new. */
  SHUTTING_DOWN: true;
  /** The broadcaster, resource or store was already closed. */
  CLOSED: true;
  /** An option has a value the component cannot use. */
  INVALID_OPTION: true;
  /** An integration needs the application's server and Atmosphere was not attached to it (`{ server }`). */
  NOT_ATTACHED: true;
  /** A provider was asked for but cannot be created here (a missing peer dependency, no configuration). */
  PROVIDER_UNAVAILABLE: true;
  /** A selected provider failed to start. */
  PROVIDER_FAILED: true;
  /** Two handlers claim the same path. */
  DUPLICATE_PATH: true;
  /** The operation conflicts with the current state (a second run on a busy session, a name already taken). */
  CONFLICT: true;
  /** The stream log refused an append: the message was not delivered (nothing is delivered that is not logged). */
  LOG_FAILED: true;
  /**
   * The stream log refused an append made under an older fencing token than the stream's: another writer took
   * the stream over (an AI run continued on another node after this node's lease expired).
   */
  LOG_FENCED: true;
  /** A session's data is over the session store's size limits. */
  SESSION_TOO_LARGE: true;
  /** A session token was forged, malformed, unknown or expired: the client gets a new session. */
  SESSION_INVALID: true;
  /** A session token was presented from another origin than the one it was issued to. */
  SESSION_FOREIGN_ORIGIN: true;
}

/** Every error code an Atmosphere package raises: the keys of {@link AtmosphereErrorCodes}. */
export type AtmosphereErrorCode = Extract<keyof AtmosphereErrorCodes, string>;

export interface AtmosphereErrorOptions {
  /** HTTP status to answer with when the error ends a request. */
  status?: number;
  /** Extra response headers when the error ends an HTTP request (e.g. `X-Atmosphere-Auth-Expired`). */
  headers?: Record<string, string>;
  cause?: unknown;
}

/**
 * The one error class of Atmosphere. `code` is stable and machine-readable; `message` says what failed,
 * why, and which option or environment variable fixes it. Use {@link AtmosphereError.isInstance} rather
 * than `instanceof` so errors from duplicate package copies are recognised.
 */
export class AtmosphereError extends Error {
  readonly code: AtmosphereErrorCode;
  readonly status: number | undefined;
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(code: AtmosphereErrorCode, message: string, options: AtmosphereErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AtmosphereError';
    this.code = code;
    this.status = options.status;
    this.headers = options.headers;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any AtmosphereError, including one thrown by another copy of this package. */
  static isInstance(value: unknown): value is AtmosphereError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}

/** Turns anything thrown into an Error, keeping AtmosphereErrors as they are. */
export function toError(value: unknown): Error {
  if (value instanceof Error) return value;
  return new Error(typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value)));
}
