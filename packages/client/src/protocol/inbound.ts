import { FrameParser, type Handshake, PADDING_CHAR, parseHandshake } from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';

/** Matches text with something besides whitespace (the same whitespace `String.prototype.trim` removes). */
const NON_BLANK = /\S/;

/** Where decoded inbound traffic goes. */
export interface InboundSink {
  /** The handshake (first message of a connection that asked for one). */
  handshake(handshake: Handshake): void;
  /** One message for the application (never a heartbeat, never whitespace only). */
  message(text: string): void;
  /** A server heartbeat (the padding char). */
  heartbeat(): void;
}

/** How an {@link InboundDecoder} reads one connection. */
export interface InboundOptions {
  /** Length-prefixed framing (`trackMessageLength`). */
  framed: boolean;
  /** The first message is the handshake. */
  expectHandshake: boolean;
  maxMessageSize: number;
  /** The heartbeat payload known so far (from an earlier handshake). */
  paddingChar?: string;
}

/**
 * Turns the text of one connection into handshake, messages and heartbeats. Framed text may be split
 * anywhere; unframed text is one message per unit (a WebSocket frame, an SSE event, a stream chunk, a
 * poll body), after the leading padding of a stream. Throws {@link AtmosphereClientError} on bad input;
 * the connection must then be dropped.
 */
export class InboundDecoder {
  readonly #parser: FrameParser | undefined;
  readonly #maxMessageSize: number;
  #awaitingHandshake: boolean;
  #paddingChar: string;
  /** Whether non-padding text was seen since the last reset (unframed streams start with padding). */
  #started = false;

  constructor(options: InboundOptions) {
    this.#maxMessageSize = options.maxMessageSize;
    this.#parser = options.framed ? new FrameParser(options.maxMessageSize) : undefined;
    this.#awaitingHandshake = options.expectHandshake;
    this.#paddingChar = options.paddingChar ?? PADDING_CHAR;
  }

  /** True until the handshake arrived (when one is expected). */
  get awaitingHandshake(): boolean {
    return this.#awaitingHandshake;
  }

  get paddingChar(): string {
    return this.#paddingChar;
  }

  /** Feeds text; calls the sink for each complete item, in order. */
  push(text: string, sink: InboundSink): void {
    if (this.#parser) {
      const messages = this.#parser.push(text);
      for (let i = 0; i < messages.length; i++) this.#deliver(messages[i]!, sink);
      return;
    }
    let unit = text;
    if (!this.#started) {
      unit = unit.replace(/^[ \t\r\n]+/, '');
      if (unit.length === 0) return;
      this.#started = true;
    }
    if (unit.length > this.#maxMessageSize) {
      throw new AtmosphereClientError(
        'MESSAGE_TOO_LARGE',
        `A message of ${unit.length} characters exceeds the limit of ${this.#maxMessageSize} (option \`maxMessageSize\`).`,
      );
    }
    if (this.#awaitingHandshake) {
      const { handshake, rest } = parseHandshake(unit);
      this.#acceptHandshake(handshake, sink);
      if (NON_BLANK.test(rest)) this.#deliver(rest, sink);
      return;
    }
    this.#deliver(unit, sink);
  }

  /**
   * The end of a unit that must not leave a partial message behind (a long-poll body). Throws
   * `PROTOCOL_ERROR` when it does, and prepares for the next unit.
   */
  endUnit(): void {
    this.#started = false;
    if (!this.#parser) return;
    const pending = this.#parser.pending;
    if (pending.length > 0) {
      this.#parser.reset();
      throw new AtmosphereClientError(
        'PROTOCOL_ERROR',
        `A response ended inside a message: ${JSON.stringify(pending.slice(0, 40))} is incomplete.`,
      );
    }
  }

  #deliver(message: string, sink: InboundSink): void {
    if (this.#awaitingHandshake) {
      this.#acceptHandshake(parseHandshake(message).handshake, sink);
      return;
    }
    if (message === this.#paddingChar) {
      sink.heartbeat();
      return;
    }
    // Whitespace-only text is padding, never a message (the server never sends one).
    if (!NON_BLANK.test(message)) return;
    sink.message(message);
  }

  #acceptHandshake(handshake: Handshake, sink: InboundSink): void {
    this.#awaitingHandshake = false;
    this.#paddingChar = handshake.paddingChar;
    sink.handshake(handshake);
  }
}
