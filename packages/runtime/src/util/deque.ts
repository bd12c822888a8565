/** Slots of a deque's first array; it never shrinks below this while it holds anything. */
const MIN_CAPACITY = 8;

/** What may be read of a {@link Deque} without changing it. */
export interface ReadonlyDeque<T> extends Iterable<T> {
  readonly length: number;
  readonly capacity: number;
  at(index: number): T | undefined;
  peek(): T | undefined;
}

/**
 * A growable ring buffer: O(1) push, shift and unshift. Allocates nothing until the first push, so an idle
 * connection's queues cost two fields. It also gives memory back: a deque that empties after growing past
 * its first array drops it, and one that falls below a quarter full halves it, so a burst (a replay, a
 * token stream) does not leave every connection holding a large array for the rest of its life.
 */
export class Deque<T> {
  #items: (T | undefined)[] | undefined;
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
  }

  /** Slots allocated (0 before the first push and after shrinking away): for tests and memory checks. */
  get capacity(): number {
    return this.#items?.length ?? 0;
  }

  push(item: T): void {
    const items = this.#grow();
    items[(this.#head + this.#length) & (items.length - 1)] = item;
    this.#length++;
  }

  unshift(item: T): void {
    const items = this.#grow();
    this.#head = (this.#head - 1) & (items.length - 1);
    items[this.#head] = item;
    this.#length++;
  }

  shift(): T | undefined {
    if (this.#length === 0) return undefined;
    const items = this.#items!;
    const item = items[this.#head];
    items[this.#head] = undefined;
    this.#head = (this.#head + 1) & (items.length - 1);
    this.#length--;
    this.#shrink(items);
    return item;
  }

  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    const items = this.#items!;
    const index = (this.#head + this.#length - 1) & (items.length - 1);
    const item = items[index];
    items[index] = undefined;
    this.#length--;
    this.#shrink(items);
    return item;
  }

  /** The item at position `index` from the front, or undefined. */
  at(index: number): T | undefined {
    if (index < 0 || index >= this.#length) return undefined;
    const items = this.#items!;
    return items[(this.#head + index) & (items.length - 1)];
  }

  peek(): T | undefined {
    return this.at(0);
  }

  /** Removes `count` items from the front. */
  dropFront(count: number): void {
    const n = Math.min(count, this.#length);
    if (n <= 0) return;
    const items = this.#items!;
    const mask = items.length - 1;
    for (let i = 0; i < n; i++) items[(this.#head + i) & mask] = undefined;
    this.#head = (this.#head + n) & mask;
    this.#length -= n;
    this.#shrink(items);
  }

  clear(): void {
    this.#items = undefined;
    this.#head = 0;
    this.#length = 0;
  }

  *[Symbol.iterator](): IterableIterator<T> {
    for (let i = 0; i < this.#length; i++) yield this.at(i)!;
  }

  #grow(): (T | undefined)[] {
    const items = this.#items;
    if (!items) return (this.#items = new Array<T | undefined>(MIN_CAPACITY));
    if (this.#length < items.length) return items;
    return this.#resize(items, items.length * 2);
  }

  /**
   * Empty after growing: drop the array (the next push starts small again). Below a quarter full: halve it,
   * which keeps shrinking amortised O(1) (it takes as many removals as the copy moves items).
   */
  #shrink(items: (T | undefined)[]): void {
    if (items.length <= MIN_CAPACITY) return;
    if (this.#length === 0) {
      this.clear();
      return;
    }
    if (this.#length < items.length >>> 2) {
      let capacity = items.length >>> 1;
      // dropFront may leave it far below a quarter full: go straight to the size that fits.
      while (capacity > MIN_CAPACITY && this.#length <= capacity >>> 2) capacity >>>= 1;
      this.#resize(items, capacity);
    }
  }

  #resize(items: (T | undefined)[], capacity: number): (T | undefined)[] {
    const next = new Array<T | undefined>(capacity);
    const mask = items.length - 1;
    for (let i = 0; i < this.#length; i++) next[i] = items[(this.#head + i) & mask];
    this.#items = next;
    this.#head = 0;
    return next;
  }
}

/** One empty deque, read-only, shared by every owner that has not needed one of its own yet. */
export const EMPTY_DEQUE: ReadonlyDeque<never> = Object.freeze({
  length: 0,
  capacity: 0,
  at: () => undefined,
  peek: () => undefined,
  [Symbol.iterator]: function* (): IterableIterator<never> {},
});
