import { PADDING_CHAR } from './constants.ts';

/** `<n>|<message>` where n counts UTF-16 code units (JavaScript `string.length`). */
export function lengthPrefixed(message: string): string {
  return `${message.length}|${message}`;
}

/** The handshake: `<uuid>|<clientHeartbeatMs>|<paddingChar>|`. */
export function handshakeText(
  trackingId: string,
  clientHeartbeatMs: number,
  paddingChar = PADDING_CHAR,
): string {
  return `${trackingId}|${clientHeartbeatMs}|${paddingChar}|`;
}

const LINE_BREAK = /\r\n|\r|\n/;

/**
 * One SSE event carrying `text`: `data:` on every line, `\r\n` after each, then a blank line. A line that
 * starts with a space gets one extra space, because EventSource strips exactly one.
 */
export function sseEvent(text: string): string {
  if (!LINE_BREAK.test(text)) return `data:${text.charCodeAt(0) === 32 ? ' ' : ''}${text}\r\n\r\n`;
  let out = '';
  for (const line of text.split(LINE_BREAK)) out += `data:${line.charCodeAt(0) === 32 ? ' ' : ''}${line}\r\n`;
  return out + '\r\n';
}

/** Newlines as an EventSource delivers them (`\r\n` and `\r` become `\n`): the text the client will see. */
export function sseNormalize(text: string): string {
  return LINE_BREAK.test(text) ? text.split(LINE_BREAK).join('\n') : text;
}

/** The SSE error event: `event:error\ndata:<code> <reason>\n\n`. */
export function sseErrorEvent(code: number, reason: string): string {
  return `event:error\ndata:${code} ${reason.replace(LINE_BREAK, ' ')}\n\n`;
}

/** True for a message a client never shows: the padding char or whitespace only. */
export function isInvisible(text: string, paddingChar = PADDING_CHAR): boolean {
  // Printable ASCII first (JSON, most text) cannot be trimmed away: no need to scan.
  const first = text.charCodeAt(0);
  if (first > 32 && first < 127) return text === paddingChar;
  return text === paddingChar || text.trim().length === 0;
}
