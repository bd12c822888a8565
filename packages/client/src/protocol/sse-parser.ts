/**
 * A server-sent events parser (the WHATWG event-stream format) for platforms without `EventSource`, or
 * when headers must be sent. Lines end with CR, LF or CRLF — even split across chunks; `data:` lines of
 * one event join with `\n`; one space after the colon is dropped; comments and unknown fields (the
 * padding line) are ignored.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event = '';
  /** The previous chunk ended with CR: a LF starting the next one belongs to it. */
  #skipLineFeed = false;

  /** Feeds a chunk; calls `onEvent(type, data)` for each complete event, in order. */
  push(chunk: string, onEvent: (type: string, data: string) => void): void {
    let text = chunk;
    if (this.#skipLineFeed && text.charCodeAt(0) === 10) text = text.slice(1);
    this.#skipLineFeed = false;
    text = this.#buffer + text;
    let start = 0;
    const length = text.length;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      this.#line(text.slice(start, i), onEvent);
      if (code === 13) {
        if (i + 1 === length) this.#skipLineFeed = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#buffer = start === length ? '' : text.slice(start);
  }

  #line(line: string, onEvent: (type: string, data: string) => void): void {
    if (line.length === 0) {
      if (this.#data.length > 0) {
        const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n');
        const type = this.#event || 'message';
        this.#data = [];
        this.#event = '';
        onEvent(type, data);
      } else {
        this.#event = '';
      }
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
  }
}
