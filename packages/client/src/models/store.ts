/**
 * The state holder behind the framework bindings: an immutable snapshot and change listeners. It fits
 * React's `useSyncExternalStore` (`subscribe`, `getSnapshot`), Vue (a shallow ref fed by `subscribe`)
 * and Svelte's store contract (see the svelte binding). A new snapshot object is made on every change.
 */
export class Store<T extends object> {
  #value: T;
  readonly #listeners = new Set<() => void>();

  constructor(initial: T) {
    this.#value = initial;
  }

  /** The current snapshot (same object until the next change). */
  readonly getSnapshot = (): T => this.#value;

  /** Calls `listener` after each change; returns the function that stops it. */
  readonly subscribe = (listener: () => void): (() => void) => {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  };

  /** Replaces fields of the snapshot and notifies. */
  update(patch: Partial<T>): void {
    this.#value = { ...this.#value, ...patch };
    for (const listener of [...this.#listeners]) listener();
  }
}

/** What every binding model offers: a store, and a ref-counted connection it opens and releases. */
export interface Model<T extends object> {
  readonly getSnapshot: () => T;
  readonly subscribe: (listener: () => void) => () => void;
  /** Starts using the connection (idempotent). */
  connect(): void;
  /** Stops using it (idempotent); the shared connection closes after its last user. */
  disconnect(): void;
}
