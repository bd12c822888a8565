const BRAND = Symbol.for('@atmosphere/error');

/** Every error code the runtime raises. Codes are stable; messages may change. */
export type AtmosphereErrorCode =
  | 'BAD_REQUEST'
  | 'UNKNOWN_TRANSPORT'
  | 'UNSUPPORTED_PROTOCOL_VERSION'
  | 'ORIGIN_NOT_ALLOWED'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UNKNOWN_TRACKING_ID'
  | 'MESSAGE_TOO_LARGE'
  | 'RATE_LIMITED'
  | 'INVALID_JSON'
  | 'HANDLER_FAILED'
  | 'FILTER_FAILED'
  | 'BACKPRESSURE'
  | 'SHUTTING_DOWN'
  | 'CLOSED'
  | 'INVALID_OPTION'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_FAILED'
  | 'DUPLICATE_PATH'
  | (string & {});

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
