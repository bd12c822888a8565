import type { AtmosphereMessage } from '@atmosphere/client';

/** What `/ticker` sends: the server's tick counter, once a second. */
export interface Tick {
  readonly n: number;
}

/** A message on `/live`, as the server broadcasts it to every page. */
export interface LiveMessage {
  readonly from: string;
  readonly text: string;
}

/** What `/live` answers a message it refuses (to its sender only). */
export interface LiveError {
  readonly type: 'error';
  readonly code: string;
  readonly message: string;
}

/** Decodes a JSON message (the `decode` option of `useAtmosphere`). */
export function json<T>(message: AtmosphereMessage): T {
  return message.json<T>();
}

/** One line of the live list: `alice: hello`, or the server's refusal. */
export function liveLine(message: LiveMessage | LiveError): string {
  return 'type' in message ? `refused: ${message.message}` : `${message.from}: ${message.text}`;
}

/** The text of a room message's data: a string, or the `text` of an object (as the AI member says it). */
export function textOf(data: unknown): string {
  if (typeof data === 'string') return data;
  const text = (data as { text?: unknown } | null | undefined)?.text;
  return typeof text === 'string' ? text : JSON.stringify(data);
}
