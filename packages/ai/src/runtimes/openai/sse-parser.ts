/** One server-sent event: its `data` lines joined with `\n`, and its `event` name when it has one. */
export interface SseEvent {
  readonly event: string | undefined;
  readonly data: string;
}

/**
 * An incremental `text/event-stream` parser (the WHATWG rules the providers' streams follow): lines end with
 * `\n`, `\r\n` or `\r`; a blank line ends an event; `:` lines are comments; one space after the field's colon is
 * dropped. Chunks may split anywhere, including between `\r` and `\n`.
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #event: string | undefined;

  /** Feeds decoded text; returns the events it completed. */
  push(text: string): SseEvent[] {
    this.#buffer += text;
    const events: SseEvent[] = [];
    let start = 0;
    const buffer = this.#buffer;
    for (let i = 0; i < buffer.length; i++) {
      const c = buffer.charCodeAt(i);
      if (c !== 10 && c !== 13) continue;
      // A `\r` at the very end may be the first half of `\r\n`: wait for the next chunk.
      if (c === 13 && i === buffer.length - 1) break;
      this.#line(buffer.slice(start, i), events);
      if (c === 13 && buffer.charCodeAt(i + 1) === 10) i++;
      start = i + 1;
    }
    this.#buffer = buffer.slice(start);
    return events;
  }

  /** The stream ended: a final event without its blank line is dispatched (as browsers do not, but providers rely on). */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.#buffer.length > 0) this.#line(this.#buffer.replace(/\r$/, ''), events);
    this.#buffer = '';
    this.#line('', events);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      if (this.#data.length > 0) events.push({ event: this.#event, data: this.#data.join('\n') });
      this.#data = [];
      this.#event = undefined;
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
