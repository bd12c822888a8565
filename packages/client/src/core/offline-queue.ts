/** A message waiting to be sent: text, or bytes for a binary message. */
export type OutgoingBody = string | ArrayBuffer;

/**
 * Messages pushed while the subscription cannot send (connecting, reconnecting, suspended), and the one
 * being posted. Bounded: past `capacity` the oldest message is dropped and `push` returns it, so the
 * caller can report the loss. Order is preserved; a message leaves the queue only once it was sent.
 */
export class OfflineQueue {
  readonly capacity: number;
  #items: OutgoingBody[] = [];
  #head = 0;
  /** How many messages ever left the queue: identifies the current head across calls. */
  removed = 0;

  constructor(capacity: number) {
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Appends a message; returns the message dropped to make room, if any. */
  push(body: OutgoingBody): OutgoingBody | undefined {
    let dropped: OutgoingBody | undefined;
    if (this.size >= this.capacity) dropped = this.shift();
    this.#items.push(body);
    return dropped;
  }

  /** The oldest message, without removing it. */
  peek(): OutgoingBody | undefined {
    return this.#items[this.#head];
  }

  /** Removes and returns the oldest message. */
  shift(): OutgoingBody | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head]!;
    this.#head++;
    this.removed++;
    if (this.#head > 64 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Removes every message; returns how many there were. */
  clear(): number {
    const size = this.size;
    this.removed += size;
    this.#items = [];
    this.#head = 0;
    return size;
  }
}
