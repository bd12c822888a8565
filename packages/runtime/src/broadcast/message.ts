import { isInvisible, lengthPrefixed, sseEvent, sseNormalize } from '../protocol/framing.ts';

/** How one connection wants its bytes: the plain text, length-prefixed, or as an SSE event (either way). */
export type Encoding = 'plain' | 'framed' | 'sse' | 'sse-framed';

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
  #encoded: [Buffer?, Buffer?, Buffer?, Buffer?] = [];
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

  /** The bytes for an encoding, computed once. Binary payloads are never prefixed or SSE-wrapped. */
  bytes(encoding: Encoding): Buffer {
    const index = encoding === 'plain' ? 0 : encoding === 'framed' ? 1 : encoding === 'sse' ? 2 : 3;
    const cached = this.#encoded[index];
    if (cached) return cached;
    let buffer: Buffer;
    const payload = this.payload;
    if (typeof payload !== 'string') {
      buffer = Buffer.isBuffer(payload)
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    } else if (encoding === 'plain') {
      buffer = Buffer.from(payload, 'utf8');
    } else if (encoding === 'framed') {
      buffer = Buffer.from(lengthPrefixed(payload), 'utf8');
    } else if (encoding === 'sse') {
      buffer = Buffer.from(sseEvent(payload), 'utf8');
    } else {
      // The client counts the length of what EventSource hands it, so count the normalised text.
      buffer = Buffer.from(sseEvent(lengthPrefixed(sseNormalize(payload))), 'utf8');
    }
    this.#encoded[index] = buffer;
    return buffer;
  }
}
