import {
  ESCAPE_PREFIX,
  isInvisible,
  lengthPrefixed,
  POSITION_MARK,
  positionPrefix,
  sseEvent,
  sseNormalize,
  type StreamPosition,
} from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import type { OutboundMessage } from '../spi/message.ts';

/**
 * How one connection wants its bytes: the plain text, length-prefixed, as an SSE event (either way), or raw
 * bytes (a WebSocket binary frame).
 */
export type Encoding = 'plain' | 'framed' | 'sse' | 'sse-framed' | 'binary';

/**
 * A message on its way out, serialised once. Every subscriber of a broadcast shares one instance; each
 * wire encoding is computed at most once, the first time a connection needs it, and then reused.
 */
export class EncodedMessage implements OutboundMessage {
  /** The payload after filters: text, or bytes for a binary message. */
  readonly payload: string | Uint8Array;
  /** Name of the broadcaster that produced it, when it came from one. */
  readonly source: string | undefined;
  /** Its position in the source's stream, once the log gave it one. */
  position: StreamPosition | undefined = undefined;
  /**
   * A control frame for clients that asked for positions (the reset frame): written to them as it is, and
   * never to anyone else.
   */
  readonly control: boolean;
  #positioned: EncodedMessage | undefined;
  #createdAt: number | undefined;
  // Each encoding's bytes, once made. Fields rather than an array: a message to one client (an AI token) is
  // then one object.
  #plain: Buffer | undefined;
  #framed: Buffer | undefined;
  #sse: Buffer | undefined;
  #sseFramed: Buffer | undefined;
  #binary: Buffer | undefined;
  // The same, as whole WebSocket frames (header and payload in one buffer), for WebSocket subscribers.
  #plainFrame: Buffer | undefined;
  #framedFrame: Buffer | undefined;
  #binaryFrame: Buffer | undefined;
  #invisible: boolean | undefined;
  #size: number | undefined;
  #writtenAt = 0;

  /** Without `createdAt`, the message is stamped when it is first kept for a client, or first asked for. */
  constructor(payload: string | Uint8Array, source?: string, createdAt?: number, control = false) {
    this.payload = payload;
    this.source = source;
    this.#createdAt = createdAt;
    this.control = control;
  }

  /**
   * The message as a client that asked for positions gets it: its payload after the position prefix of its
   * stream (`positionPrefix`), or after the escape when it has no position but starts with the mark. Made
   * once per message and shared by every such subscriber; the message itself when nothing is to be added.
   */
  positioned(): EncodedMessage {
    if (this.#positioned !== undefined) return this.#positioned;
    const payload = this.payload;
    let prefix: string | undefined;
    if (this.control) prefix = undefined;
    else if (this.position !== undefined && this.source !== undefined)
      prefix = positionPrefix(this.source, this.position);
    else if (typeof payload === 'string' ? payload.startsWith(POSITION_MARK) : payload[0] === 0x1d)
      prefix = ESCAPE_PREFIX;
    if (prefix === undefined) return (this.#positioned = this);
    let next: string | Uint8Array;
    if (typeof payload === 'string') next = prefix + payload;
    else {
      const head = Buffer.from(prefix, 'latin1');
      next = Buffer.concat([head, payload]);
    }
    const message = new EncodedMessage(next, this.source, this.#createdAt);
    message.position = this.position;
    return (this.#positioned = message);
  }

  /**
   * When the message was made, or first kept for a client (queued, or held until the client confirms it),
   * in ms since epoch: the cache's time-to-live and the delivery probe count from it. A message that is
   * written at once and kept by no one never reads the clock.
   */
  get createdAt(): number {
    return (this.#createdAt ??= Date.now());
  }

  /**
   * @internal When the message was first written to a socket (`performance.now()`): the clock is read once per
   * message and the time shared by every recipient, not read once per recipient. The WebSocket transport tells
   * a burst from a pause by it.
   */
  get writtenAt(): number {
    const at = this.#writtenAt;
    return at !== 0 ? at : (this.#writtenAt = performance.now());
  }

  /** @internal A client's queue keeps the message: its age counts from now, if it has none yet. */
  kept(): void {
    this.#createdAt ??= Date.now();
  }

  /** The payload's size in bytes (UTF-8 for text), computed once: what a client's queue counts against its byte bound. */
  get size(): number {
    return (this.#size ??=
      typeof this.payload === 'string' ? Buffer.byteLength(this.payload) : this.payload.byteLength);
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
    switch (encoding) {
      case 'plain':
        return (this.#plain ??= Buffer.from(this.#text('plain')));
      case 'framed':
        return (this.#framed ??= Buffer.from(this.#text('framed')));
      case 'sse':
        return (this.#sse ??= Buffer.from(this.#text('sse')));
      case 'sse-framed':
        return (this.#sseFramed ??= Buffer.from(this.#text('sse-framed')));
      case 'binary':
        return (this.#binary ??= binaryBytes(this.payload));
    }
  }

  /**
   * A whole server-to-client WebSocket frame (FIN, unmasked: text, or binary for `binary`) carrying the
   * encoding's bytes, built once per message: every WebSocket subscriber with that encoding is written the same
   * buffer, so per client only the socket write remains. For connections without compression (the server
   * turns it off).
   */
  webSocketFrame(encoding: 'plain' | 'framed' | 'binary'): Buffer {
    switch (encoding) {
      case 'plain':
        return (this.#plainFrame ??= frameOf(this.#text('plain'), TEXT_OPCODE));
      case 'framed':
        return (this.#framedFrame ??= frameOf(this.#text('framed'), TEXT_OPCODE));
      case 'binary':
        return (this.#binaryFrame ??= frameOf(binaryBytes(this.payload), BINARY_OPCODE));
    }
  }

  /** The text of a text encoding (a binary payload as base64). */
  #text(encoding: Exclude<Encoding, 'binary'>): string {
    const payload = this.payload;
    const text =
      typeof payload === 'string'
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('base64');
    if (encoding === 'plain') return text;
    if (encoding === 'framed') return lengthPrefixed(text);
    if (encoding === 'sse') return sseEvent(text);
    // The client counts the length of what EventSource hands it, so count the normalised text.
    return sseEvent(lengthPrefixed(sseNormalize(text)));
  }
}

const TEXT_OPCODE = 0x1;
const BINARY_OPCODE = 0x2;

/** One unmasked, final WebSocket frame (RFC 6455 §5.2) around `data`, header and payload in one buffer. */
function frameOf(data: string | Buffer, opcode: number): Buffer {
  const length = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  const header = length < 126 ? 2 : length < 65_536 ? 4 : 10;
  const frame = Buffer.allocUnsafe(header + length);
  frame[0] = 0x80 | opcode;
  if (length < 126) frame[1] = length;
  else if (length < 65_536) {
    frame[1] = 126;
    frame.writeUInt16BE(length, 2);
  } else {
    frame[1] = 127;
    frame.writeUInt32BE(Math.floor(length / 0x1_0000_0000), 2);
    frame.writeUInt32BE(length >>> 0, 6);
  }
  if (typeof data === 'string') frame.write(data, header, 'utf8');
  else data.copy(frame, header);
  return frame;
}

/** A payload's bytes as a WebSocket binary frame carries them (text as UTF-8). */
function binaryBytes(payload: string | Uint8Array): Buffer {
  if (typeof payload === 'string') return Buffer.from(payload, 'utf8');
  return Buffer.isBuffer(payload)
    ? payload
    : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
}

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

/** A message ready to deliver (an {@link EncodedMessage} is used as it is). */
export function toEncoded(message: unknown, source?: string): EncodedMessage {
  return message instanceof EncodedMessage ? message : new EncodedMessage(encodePayload(message), source);
}
