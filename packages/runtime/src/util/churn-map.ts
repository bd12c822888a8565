/** What an entry of a `ChurnMap` holds once deleted (it may still be in the iteration order). */
const REMOVED: unique symbol = Symbol('removed');

interface Entry<V> {
  value: V | typeof REMOVED;
}

/**
 * A map from strings to values whose entries come and go all the time — a resource or a queue per connection —
 * kept in a dictionary object instead of a `Map`.
 *
 * Why not a `Map`: V8 stores a `Map`'s entries in a table that it replaces whenever the table fills up with
 * deleted entries, and the replaced table keeps pointing to its successor and to the entries it held (for
 * iterators still on it) until the next full garbage collection. Once a table has been promoted to the old
 * generation, every later table and every value that was in any of them survives the young-generation
 * collections (scavenges) after it: a server that refuses connection after connection keeps each refused
 * connection's objects — its socket, its `ws` parser and error, its resource — through two scavenges, into
 * the old generation, and V8 grows its young generation for bytes that were garbage all along (a 60 s flood
 * of malformed frames took it to its maximum, +120 MiB of RSS; docs/performance.md). A dictionary object
 * replaces its table too, but the old one points to nothing.
 *
 * The order of iteration is kept apart, in an array of entries (iterating a dictionary object sorts its keys
 * each time: 100 ms for 100 000 entries, against 5 for a `Map`; this takes as long as a `Map`). A deleted entry gives up its value at once
 * and stays in that array, empty, until deleted entries are half of it; then the array is rebuilt. Iteration
 * is in insertion order, as with a `Map`: an entry deleted before it is reached is skipped, an entry added
 * during the iteration is visited unless the array was rebuilt in between.
 */
export class ChurnMap<V> {
  #entries: Record<string, Entry<V>> = Object.create(null) as Record<string, Entry<V>>;
  #order: Entry<V>[] = [];
  #size = 0;

  get size(): number {
    return this.#size;
  }

  get(key: string): V | undefined {
    const entry = this.#entries[key];
    return entry === undefined ? undefined : (entry.value as V);
  }

  has(key: string): boolean {
    return this.#entries[key] !== undefined;
  }

  set(key: string, value: V): this {
    const entry = this.#entries[key];
    if (entry !== undefined) {
      entry.value = value;
      return this;
    }
    const added: Entry<V> = { value };
    this.#entries[key] = added;
    this.#order.push(added);
    this.#size++;
    return this;
  }

  delete(key: string): boolean {
    const entries = this.#entries;
    const entry = entries[key];
    if (entry === undefined) return false;
    delete entries[key];
    entry.value = REMOVED;
    this.#size--;
    // Rebuilt once the deleted entries are half of the order: amortized constant work per deletion. An
    // iteration under way goes on over the array it started with.
    const order = this.#order;
    if (order.length >= 32 && this.#size < order.length / 2) {
      this.#order = order.filter((kept) => kept.value !== REMOVED);
    }
    return true;
  }

  values(): IterableIterator<V> {
    return new ChurnMapValues(this.#order);
  }

  clear(): void {
    for (const entry of this.#order) entry.value = REMOVED;
    this.#entries = Object.create(null) as Record<string, Entry<V>>;
    this.#order = [];
    this.#size = 0;
  }
}

/** The values of a `ChurnMap` in insertion order (an iterator object: a generator is about 3 times slower). */
class ChurnMapValues<V> implements IterableIterator<V> {
  readonly #order: readonly Entry<V>[];
  #next = 0;

  constructor(order: readonly Entry<V>[]) {
    this.#order = order;
  }

  [Symbol.iterator](): IterableIterator<V> {
    return this;
  }

  next(): IteratorResult<V> {
    const order = this.#order;
    while (this.#next < order.length) {
      const value = order[this.#next++]!.value;
      if (value !== REMOVED) return { value, done: false };
    }
    return { value: undefined, done: true };
  }
}
