/*
 * Server-sent events (PROTOCOL.md §4): what the server writes, and a parser of the event-stream format for
 * readers without `EventSource` (a fetch stream, a provider's streamed answer).
 */

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * One SSE event carrying `text`: `data:` on every line, `\r\n` after each, then a blank line. A line that
 * starts with a space gets one extra space, because an event-stream reader strips exactly one.
 */
export function sseEvent(text: string): string {
  if (!LINE_BREAK.test(text)) return `data:${text.charCodeAt(0) === 32 ? ' ' : ''}${text}\r\n\r\n`;
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `data:${line.charCodeAt(0) === 32 ? ' ' : ''}${line}\r\n`;
  return out + '\r\n';
}

/** Newlines as an event-stream reader delivers them (`\r\n` and `\r` become `\n`): the text a client sees. */
export function sseNormalize(text: string): string {
  return LINE_BREAK.test(text) ? text.split(LINE_BREAK).join('\n') : text;
}

/** The SSE error event: `event:error\ndata:<code> <reason>\n\n`. */
export function sseErrorEvent(code: number, reason: string): string {
  return `event:error\ndata:${code} ${reason.replace(LINE_BREAK, ' ')}\n\n`;
}

/** One event of an event stream. */
export interface SseEvent {
  /** The `event:` field, `message` when the event had none. */
  readonly type: string;
  /** The `data:` lines, joined with `\n`. */
  readonly data: string;
  /** The `id:` field, when the event had one. */
  readonly id: string | undefined;
}

/**
 * An incremental parser of the event-stream format (the WHATWG rules): lines end with CR, LF or CRLF — even
 * split across chunks; `data:` lines of one event join with `\n`; one space after the colon is dropped;
 * comments and unknown fields (a padding line) are ignored; an event without data is not dispatched.
 * Contract: `push()` returns the events its chunk completed, in order; `end()` dispatches a last event that
 * lacks its blank line (browsers drop it; model providers rely on it).
 */
export class SseParser {
  #buffer = '';
  #data: string[] = [];
  #type = '';
  #id: string | undefined;
  /** The previous chunk ended with CR: a LF starting the next one belongs to it. */
  #skipLineFeed = false;

  /** Feeds a chunk; returns the events it completed. */
  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = [];
    let text = chunk;
    if (this.#skipLineFeed && text.charCodeAt(0) === 10) text = text.slice(1);
    this.#skipLineFeed = false;
    text = this.#buffer + text;
    let start = 0;
    const length = text.length;
    for (let i = 0; i < length; i++) {
      const code = text.charCodeAt(i);
      if (code !== 10 && code !== 13) continue;
      this.#line(text.slice(start, i), events);
      if (code === 13) {
        if (i + 1 === length) this.#skipLineFeed = true;
        else if (text.charCodeAt(i + 1) === 10) i++;
      }
      start = i + 1;
    }
    this.#buffer = start === length ? '' : text.slice(start);
    return events;
  }

  /** The stream ended: returns the event a last line without its blank line completes, if any. */
  end(): SseEvent[] {
    const events: SseEvent[] = [];
    if (this.#buffer.length > 0) this.#line(this.#buffer, events);
    this.#buffer = '';
    this.#line('', events);
    return events;
  }

  #line(line: string, events: SseEvent[]): void {
    if (line.length === 0) {
      if (this.#data.length > 0) {
        const data = this.#data.length === 1 ? this.#data[0]! : this.#data.join('\n');
        events.push({ type: this.#type || 'message', data, id: this.#id });
        this.#data = [];
      }
      this.#type = '';
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return;
    const colon = line.indexOf(':');
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? '' : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#type = value;
    else if (field === 'id' && !value.includes('\0')) this.#id = value;
  }
}
