import type { RoomMessage } from '@atmosphere/client';
import { textOf } from './messages.ts';

/**
 * A message this page broadcast to the room. The room does not echo a broadcast to the connection that sent
 * it, and `useRoom().messages` holds what was received, so a page keeps its own messages and shows each one
 * right after the message it had last received when it sent it.
 */
export interface SentMessage {
  readonly key: number;
  readonly text: string;
  /**
   * The last message received when this one was sent (`undefined`: none yet). Matched by its history `id`: Vue's
   * `ref` and Svelte's `$state` hand back a proxy of the object stored, never the object itself.
   */
  readonly after: RoomMessage | undefined;
}

/** One line of the room's conversation, as a page shows it. */
export interface ConversationLine {
  readonly key: string;
  readonly from: string;
  readonly text: string;
}

/** The last message received, to pass as `after` when sending. */
export function lastOf(received: readonly RoomMessage[]): RoomMessage | undefined {
  return received[received.length - 1];
}

/**
 * The conversation in the order this page saw it: received messages, and the page's own messages (sent by
 * `me`) after the message each one followed. Own messages that follow a message no longer kept come first.
 */
export function conversation(
  received: readonly RoomMessage[],
  sent: readonly SentMessage[],
  me: string,
): ConversationLine[] {
  const mine = (message: SentMessage): ConversationLine => ({
    key: `sent-${message.key}`,
    from: me,
    text: message.text,
  });
  // A message is known by its history id; one without (a room without history) by the object itself.
  const keyOf = (message: RoomMessage): unknown => message.id ?? message;
  const followers = new Map<unknown, SentMessage[]>();
  for (const message of sent) {
    if (!message.after) continue;
    const key = keyOf(message.after);
    followers.set(key, [...(followers.get(key) ?? []), message]);
  }
  const kept = new Set(received.map(keyOf));
  const lines = sent.filter((message) => !message.after || !kept.has(keyOf(message.after))).map(mine);
  received.forEach((message, index) => {
    lines.push({
      key: message.id === undefined ? `received-${index}` : `id-${message.id}`,
      from: message.from,
      text: textOf(message.data),
    });
    for (const own of followers.get(keyOf(message)) ?? []) lines.push(mine(own));
  });
  return lines;
}
