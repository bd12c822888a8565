/**
 * Splits a stream of length-prefixed text (`5|hello6|world!`) into messages, whatever the chunk boundaries,
 * including inside the length prefix. Whitespace between messages (padding) is skipped.
 */
export class FrameReader {
  #buffer = '';

  /** Feeds a chunk; returns the messages it completed. Throws on a malformed prefix. */
  push(chunk: string): string[] {
    this.#buffer += chunk;
    const messages: string[] = [];
    for (;;) {
      const start = this.#buffer.search(/\S/);
      if (start === -1) {
        this.#buffer = '';
        break;
      }
      if (start > 0) this.#buffer = this.#buffer.slice(start);
      const bar = this.#buffer.indexOf('|');
      if (bar === -1) {
        if (!/^\d*$/.test(this.#buffer))
          throw new Error(`Malformed frame: ${JSON.stringify(this.#buffer.slice(0, 40))}`);
        break;
      }
      const lengthText = this.#buffer.slice(0, bar);
      if (!/^\d+$/.test(lengthText))
        throw new Error(`Malformed length prefix: ${JSON.stringify(lengthText.slice(0, 40))}`);
      const length = Number(lengthText);
      if (this.#buffer.length < bar + 1 + length) break;
      messages.push(this.#buffer.slice(bar + 1, bar + 1 + length));
      this.#buffer = this.#buffer.slice(bar + 1 + length);
    }
    return messages;
  }

  /** Text received but not yet a whole message. */
  get pending(): string {
    return this.#buffer;
  }
}
