import type { RoomMessage } from './types.ts';

/** One remembered message: its id, the frame exactly as it was sent, and the message itself. */
export interface HistoryEntry {
  readonly id: number;
  /** The serialised `message` frame, replayed byte for byte. */
  readonly payload: string;
  readonly message: RoomMessage;
}

/**
 * The last `capacity` messages of a room, oldest first, in a ring buffer. Ids only grow, so "everything after
 * id n" is a binary search and a slice: no scan, no duplicates.
 */
export class RoomHistory {
  #entries: (HistoryEntry | undefined)[];
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#entries = new Array<HistoryEntry | undefined>(capacity);
  }

  get capacity(): number {
    return this.#entries.length;
  }

  get size(): number {
    return this.#size;
  }

  /** The id of the newest entry, or undefined when empty. */
  get lastId(): number | undefined {
    return this.#size === 0 ? undefined : this.#at(this.#size - 1).id;
  }

  #at(index: number): HistoryEntry {
    return this.#entries[(this.#start + index) % this.#entries.length]!;
  }

  /** Appends an entry (its id must be greater than every id before), evicting the oldest when full. */
  push(entry: HistoryEntry): void {
    const capacity = this.#entries.length;
    if (this.#size < capacity) {
      this.#entries[(this.#start + this.#size) % capacity] = entry;
      this.#size++;
      return;
    }
    this.#entries[this.#start] = entry;
    this.#start = (this.#start + 1) % capacity;
  }

  /** Entries with an id greater than `sinceId`, oldest first (all of them when `sinceId` is undefined). */
  after(sinceId: number | undefined): HistoryEntry[] {
    let low = 0;
    if (sinceId !== undefined) {
      let high = this.#size;
      while (low < high) {
        const middle = (low + high) >>> 1;
        if (this.#at(middle).id <= sinceId) low = middle + 1;
        else high = middle;
      }
    }
    const result: HistoryEntry[] = [];
    for (let i = low; i < this.#size; i++) result.push(this.#at(i));
    return result;
  }

  /** A history of another capacity holding the newest entries of this one. */
  resized(capacity: number): RoomHistory {
    const next = new RoomHistory(capacity);
    const keep = Math.min(capacity, this.#size);
    for (let i = this.#size - keep; i < this.#size; i++) next.push(this.#at(i));
    return next;
  }
}
