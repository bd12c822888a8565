import { AtmosphereError } from '@atmosphere/runtime';
import type { ChatMessage } from '@atmosphere/ai/spi';

/** Limits of the durable conversation stores. */
export interface ConversationLimits {
  /** Messages kept per conversation; older ones are dropped. Default 20 (as the in-memory store). */
  maxMessages: number;
  /** A conversation not appended to for this long is forgotten. Default 86 400 000 ms (24 h). */
  ttlMs: number;
  /** Largest message, in bytes of its JSON; a larger one is refused (`MESSAGE_TOO_LARGE`). Default 1 MiB. */
  maxMessageBytes: number;
}

/** Defaults of {@link ConversationLimits}. */
export const DEFAULT_CONVERSATION_LIMITS: Readonly<ConversationLimits> = Object.freeze({
  maxMessages: 20,
  ttlMs: 86_400_000,
  maxMessageBytes: 1024 * 1024,
});

/** The JSON of each message, checked against `maxMessageBytes`. */
export function encodeMessages(messages: readonly ChatMessage[], limits: ConversationLimits): string[] {
  return messages.map((message) => {
    const json = JSON.stringify(message);
    if (Buffer.byteLength(json) > limits.maxMessageBytes)
      throw new AtmosphereError(
        'MESSAGE_TOO_LARGE',
        `A conversation message of ${Buffer.byteLength(json)} bytes exceeds maxMessageBytes (${limits.maxMessageBytes}); nothing was stored.`,
      );
    return json;
  });
}

/** The last `limit` of `messages` (all when no limit). */
export function lastOf<T>(messages: T[], limit: number | undefined): T[] {
  return limit === undefined || limit >= messages.length
    ? messages
    : messages.slice(messages.length - Math.max(0, limit));
}

/** Throws the abort reason when `signal` is aborted. */
export function checkSignal(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}
