/**
 * Client-side parser of Atmosphere's length-prefixed framing (`<n>|<message>`, PROTOCOL.md §3), as a lean
 * client would write it: a fast path for the usual case (one whole message per chunk), a buffer for the
 * rest — several messages per chunk, a message or a prefix split across chunks, leading padding.
 */
export class FrameParser {
  #buffer = '';

  /** Feeds a chunk and calls `onMessage` for each message it completes. Throws on a malformed prefix. */
  push(chunk: string, onMessage: (message: string) => void): void {
    const text = this.#buffer.length === 0 ? chunk : this.#buffer + chunk;
    this.#buffer = '';
    let start = 0;
    for (;;) {
      // Skip whitespace (padding) between messages.
      while (start < text.length && isSpace(text.charCodeAt(start))) start++;
      if (start >= text.length) return;
      const bar = text.indexOf('|', start);
      if (bar === -1) {
        this.#buffer = text.slice(start);
        if (this.#buffer.length > 16)
          throw new Error(`malformed frame: ${JSON.stringify(this.#buffer.slice(0, 40))}`);
        return;
      }
      let length = 0;
      for (let i = start; i < bar; i++) {
        const digit = text.charCodeAt(i) - 48;
        if (digit < 0 || digit > 9)
          throw new Error(`malformed length prefix: ${JSON.stringify(text.slice(start, bar))}`);
        length = length * 10 + digit;
      }
      const end = bar + 1 + length;
      if (end > text.length) {
        this.#buffer = text.slice(start);
        return;
      }
      onMessage(start === 0 && end === text.length ? text.slice(bar + 1) : text.slice(bar + 1, end));
      if (end === text.length) return;
      start = end;
    }
  }
}

function isSpace(code: number): boolean {
  return code === 32 || code === 10 || code === 13 || code === 9;
}

/**
 * Splits a server-sent-event stream into event data (the `data:` lines of one event joined with `\n`), for
 * both Atmosphere's `\r\n` line ends and the plain `\n` of the raw server.
 */
export class SseParser {
  #buffer = '';

  push(chunk: string, onData: (data: string) => void): void {
    let text = this.#buffer.length === 0 ? chunk : this.#buffer + chunk;
    for (;;) {
      let end = text.indexOf('\n\n');
      let separator = 2;
      const crlf = text.indexOf('\r\n\r\n');
      if (crlf !== -1 && (end === -1 || crlf < end)) {
        end = crlf;
        separator = 4;
      }
      if (end === -1) break;
      const block = text.slice(0, end);
      text = text.slice(end + separator);
      let data: string | undefined;
      for (const line of block.split(/\r?\n/)) {
        if (!line.startsWith('data:')) continue;
        const value = line.charCodeAt(5) === 32 ? line.slice(6) : line.slice(5);
        data = data === undefined ? value : `${data}\n${value}`;
      }
      if (data !== undefined) onData(data);
    }
    this.#buffer = text;
  }
}
