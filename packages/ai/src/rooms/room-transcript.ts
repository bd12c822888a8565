import type { ChatMessage } from '../spi/chat.ts';

/**
 * The recent conversation of one room, as an AI member remembers it: at most `capacity` messages, oldest
 * dropped first (a ring, so a busy room costs no copying per message). Messages longer than
 * `maxMessageLength` are cut, so one pasted document cannot fill a model's context.
 */
export class RoomTranscript {
  readonly capacity: number;
  readonly maxMessageLength: number;
  readonly #ring: (ChatMessage | undefined)[];
  #next = 0;
  #size = 0;

  constructor(capacity: number, maxMessageLength = 4_000) {
    this.capacity = Math.max(0, Math.floor(capacity));
    this.maxMessageLength = maxMessageLength;
    this.#ring = new Array<ChatMessage | undefined>(this.capacity);
  }

  get size(): number {
    return this.#size;
  }

  /** Remembers a message (a no-op with capacity 0). Returns the message as kept (cut when too long). */
  push(message: ChatMessage): ChatMessage {
    const kept =
      message.content.length > this.maxMessageLength
        ? { ...message, content: `${message.content.slice(0, this.maxMessageLength)}…` }
        : message;
    if (this.capacity === 0) return kept;
    this.#ring[this.#next] = kept;
    this.#next = (this.#next + 1) % this.capacity;
    if (this.#size < this.capacity) this.#size++;
    return kept;
  }

  /** The remembered messages, oldest first, without `except` (the question being answered), the last `limit` at most. */
  snapshot(except?: ChatMessage, limit = this.capacity): ChatMessage[] {
    const out: ChatMessage[] = [];
    const start = (this.#next - this.#size + this.capacity) % Math.max(1, this.capacity);
    for (let i = 0; i < this.#size; i++) {
      const message = this.#ring[(start + i) % this.capacity]!;
      if (message !== except) out.push(message);
    }
    return out.length > limit ? out.slice(out.length - limit) : out;
  }

  clear(): void {
    this.#ring.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
