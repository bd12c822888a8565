/** What went wrong while reading protocol input. Codes are stable; messages may change. */
export type ProtocolErrorCode =
  /** The bytes are not the Atmosphere protocol (a bad length prefix, a bad handshake). */
  | 'PROTOCOL_ERROR'
  /** A message longer than the reader accepts. */
  | 'MESSAGE_TOO_LARGE'
  /** JSON that is not valid, or nested deeper than allowed. */
  | 'INVALID_JSON';

const BRAND = Symbol.for('@atmosphere/protocol.error');

/**
 * The error the protocol readers throw (framing, handshake, untrusted JSON). The server and the client turn
 * it into their own error class, keeping `code`. Use {@link ProtocolError.isInstance} rather than
 * `instanceof`, so errors from a duplicate copy of the package are recognised.
 */
export class ProtocolError extends Error {
  readonly code: ProtocolErrorCode;

  constructor(code: ProtocolErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProtocolError';
    this.code = code;
    Object.defineProperty(this, BRAND, { value: true });
  }

  /** True for any ProtocolError, including one thrown by another copy of this package. */
  static isInstance(value: unknown): value is ProtocolError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }
}
