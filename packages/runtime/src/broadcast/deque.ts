/**
 * A growable ring buffer: O(1) push, shift and unshift. Allocates nothing until the first push, so an idle
 * connection's queues cost two fields.
 */
export class Deque<T> {
  #items: (T | undefined)[] | undefined;
  #head = 0;
  #length = 0;

  get length(): number {
    return this.#length;
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
    return item;
  }

  pop(): T | undefined {
    if (this.#length === 0) return undefined;
    const items = this.#items!;
    const index = (this.#head + this.#length - 1) & (items.length - 1);
    const item = items[index];
    items[index] = undefined;
    this.#length--;
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
    for (let i = 0; i < n; i++) this.shift();
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
    let items = this.#items;
    if (!items) {
      items = this.#items = new Array<T | undefined>(8);
      return items;
    }
    if (this.#length < items.length) return items;
    const next = new Array<T | undefined>(items.length * 2);
    for (let i = 0; i < this.#length; i++) next[i] = items[(this.#head + i) & (items.length - 1)];
    this.#items = next;
    this.#head = 0;
    return next;
  }
}
