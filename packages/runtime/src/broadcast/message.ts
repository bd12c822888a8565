import { AtmosphereError } from '../errors.ts';
import { isInvisible, lengthPrefixed, sseEvent, sseNormalize } from '../protocol/framing.ts';

/**
 * How one connection wants its bytes: the plain text, length-prefixed, as an SSE event (either way), or raw
 * bytes (a WebSocket binary frame).
 */
export type Encoding = 'plain' | 'framed' | 'sse' | 'sse-framed' | 'binary';

/**
 * A message on its way out, serialised once. Every subscriber of a broadcast shares one instance; each
 * wire encoding is computed at most once, the first time a connection needs it, and then reused.
 */
export class OutboundMessage {
  /** The payload after filters: text, or bytes for a binary message. */
  readonly payload: string | Uint8Array;
  /** When the message was created (ms since epoch), for the cache's time-to-live. */
  readonly createdAt: number;
  /** Name of the broadcaster that produced it, when it came from one. */
  readonly source: string | undefined;
  #encoded: [Buffer?, Buffer?, Buffer?, Buffer?, Buffer?] = [];
  #invisible: boolean | undefined;

  constructor(payload: string | Uint8Array, source?: string, createdAt = Date.now()) {
    this.payload = payload;
    this.source = source;
    this.createdAt = createdAt;
  }

  get binary(): boolean {
    return typeof this.payload !== 'string';
  }

  /**
   * True for a text message no client would show (the padding char, whitespace only): it is never sent, so
   * client and server count the same messages. Computed once per message, not per subscriber.
   */
  get invisible(): boolean {
    return (this.#invisible ??= typeof this.payload === 'string' && isInvisible(this.payload));
  }

  /** The text payload (binary payloads decoded as UTF-8, for logs and filters). */
  get text(): string {
    return typeof this.payload === 'string' ? this.payload : Buffer.from(this.payload).toString('utf8');
  }

  /**
   * The bytes for an encoding, computed once. A binary payload is sent as it is over WebSocket (`binary`);
   * text transports cannot carry raw bytes without breaking their framing, so there it travels as its
   * base64 text, framed like any text message.
   */
  bytes(encoding: Encoding): Buffer {
    const index = ENCODING_INDEX[encoding];
    const cached = this.#encoded[index];
    if (cached) return cached;
    const payload = this.payload;
    let buffer: Buffer;
    if (encoding === 'binary') {
      buffer =
        typeof payload === 'string'
          ? Buffer.from(payload, 'utf8')
          : Buffer.isBuffer(payload)
            ? payload
            : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    } else {
      const text =
        typeof payload === 'string'
          ? payload
          : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
      if (encoding === 'plain') buffer = Buffer.from(text, 'utf8');
      else if (encoding === 'framed') buffer = Buffer.from(lengthPrefixed(text), 'utf8');
      else if (encoding === 'sse') buffer = Buffer.from(sseEvent(text), 'utf8');
      // The client counts the length of what EventSource hands it, so count the normalised text.
      else buffer = Buffer.from(sseEvent(lengthPrefixed(sseNormalize(text))), 'utf8');
    }
    this.#encoded[index] = buffer;
    return buffer;
  }
}

const ENCODING_INDEX: Readonly<Record<Encoding, 0 | 1 | 2 | 3 | 4>> = {
  plain: 0,
  framed: 1,
  sse: 2,
  'sse-framed': 3,
  binary: 4,
};

/** A message as it goes on the wire: strings and bytes as they are; anything else as JSON. */
export function encodePayload(message: unknown): string | Uint8Array {
  if (typeof message === 'string' || message instanceof Uint8Array) return message;
  let json: string | undefined;
  try {
    json = JSON.stringify(message);
  } catch (error) {
    throw new AtmosphereError(
      'BAD_REQUEST',
      `The message cannot be encoded as JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
  if (json === undefined)
    throw new AtmosphereError('BAD_REQUEST', `A ${typeof message} cannot be sent as a message.`);
  return json;
}

/** A message ready to deliver (an {@link OutboundMessage} is used as it is). */
export function toOutbound(message: unknown, source?: string): OutboundMessage {
  return message instanceof OutboundMessage ? message : new OutboundMessage(encodePayload(message), source);
}
