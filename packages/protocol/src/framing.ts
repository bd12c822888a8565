import { ProtocolError } from './errors.ts';

/** The heartbeat payload, and the message clients drop (PROTOCOL.md §5). The handshake may name another. */
export const PADDING_CHAR = 'X';
/** Padding at the start of an SSE response: 2000 spaces and a newline. */
export const SSE_PADDING = ' '.repeat(2000) + '\n';
/** Padding at the start of a streaming or long-polling response: 2048 spaces and a newline. */
export const STREAMING_PADDING = ' '.repeat(2048) + '\n';

/** `<n>|<message>` where n counts UTF-16 code units (JavaScript `string.length`), PROTOCOL.md §3. */
export function lengthPrefixed(message: string): string {
  return `${message.length}|${message}`;
}

/** True for a message no client shows: the padding char or whitespace only (never sent, never counted). */
export function isInvisible(text: string, paddingChar = PADDING_CHAR): boolean {
  // Printable ASCII first (JSON, most text) cannot be trimmed away: no need to scan.
  const first = text.charCodeAt(0);
  if (first > 32 && first < 127) return text === paddingChar;
  return text === paddingChar || text.trim().length === 0;
}

/** The longest length prefix accepted: 10 digits is already far past any sane message. */
const MAX_PREFIX_DIGITS = 10;

/** True for the whitespace servers pad with (space, tab, CR, LF). */
function isPadding(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

/**
 * Splits length-prefixed text (`5|hello6|world!`, PROTOCOL.md §3) into messages, whatever the chunk
 * boundaries — including a boundary inside the length prefix (`"12"` then `"4|{…"`). Whitespace between
 * messages (the padding a stream starts with) is skipped. Lengths count UTF-16 code units.
 *
 * Contract: `push()` returns the messages it completed, in order; a partial message stays buffered until
 * its remaining text arrives. A malformed prefix or a message longer than `maxMessageSize` throws a
 * {@link ProtocolError} (`PROTOCOL_ERROR` / `MESSAGE_TOO_LARGE`); the parser is then unusable until
 * `reset()` (the stream it was reading is corrupt).
 */
export class FrameParser {
  readonly maxMessageSize: number;
  #buffer = '';
  /** Where the unread text of `#buffer` starts (avoids re-slicing on every message). */
  #offset = 0;
  /** Length of the message being waited for, once its prefix was read; -1 while reading a prefix. */
  #expected = -1;
  #failed = false;

  constructor(maxMessageSize: number) {
    this.maxMessageSize = maxMessageSize;
  }

  /** Text received but not yet part of a whole message (padding excluded). */
  get pending(): string {
    const rest = this.#buffer.slice(this.#offset);
    return this.#expected === -1 ? rest.trimStart() : rest;
  }

  /** Forgets buffered text (a new connection). */
  reset(): void {
    this.#buffer = '';
    this.#offset = 0;
    this.#expected = -1;
    this.#failed = false;
  }

  /** Feeds a chunk; returns the messages it completed. */
  push(chunk: string): string[] {
    if (this.#failed)
      throw new ProtocolError('PROTOCOL_ERROR', 'The frame parser failed earlier; reset it first.');
    const messages: string[] = [];
    // Appending keeps V8's rope cheap while a long message arrives in many chunks; the consumed head is
    // dropped once a message completes or it dominates the buffer.
    if (this.#offset > 4096 && this.#offset * 2 > this.#buffer.length) {
      this.#buffer = this.#buffer.slice(this.#offset);
      this.#offset = 0;
    }
    this.#buffer += chunk;
    const buffer = this.#buffer;
    const length = buffer.length;
    let position = this.#offset;
    for (;;) {
      if (this.#expected === -1) {
        while (position < length && isPadding(buffer.charCodeAt(position))) position++;
        if (position === length) break;
        let cursor = position;
        let value = 0;
        while (cursor < length) {
          const code = buffer.charCodeAt(cursor);
          if (code < 48 || code > 57) break;
          value = value * 10 + (code - 48);
          cursor++;
        }
        const digits = cursor - position;
        if (digits > MAX_PREFIX_DIGITS) this.#fail(buffer, position, 'a length prefix longer than 10 digits');
        if (cursor === length) break; // the prefix may continue in the next chunk
        if (buffer.charCodeAt(cursor) !== 124 /* | */ || digits === 0) {
          this.#fail(buffer, position, 'no `<length>|` prefix');
        }
        if (value > this.maxMessageSize) {
          this.#failed = true;
          throw new ProtocolError(
            'MESSAGE_TOO_LARGE',
            `The server announced a message of ${value} characters; the limit is ${this.maxMessageSize} (option \`maxMessageSize\`).`,
          );
        }
        this.#expected = value;
        position = cursor + 1;
      }
      if (length - position < this.#expected) break;
      messages.push(buffer.slice(position, position + this.#expected));
      position += this.#expected;
      this.#expected = -1;
    }
    if (position === length) {
      this.#buffer = '';
      this.#offset = 0;
    } else {
      this.#offset = position;
    }
    return messages;
  }

  #fail(buffer: string, position: number, what: string): never {
    this.#failed = true;
    throw new ProtocolError(
      'PROTOCOL_ERROR',
      `Malformed frame: ${what} at ${JSON.stringify(buffer.slice(position, position + 40))}. Is \`trackMessageLength\` set the same on both sides?`,
    );
  }
}
