/** A listener map: event name → argument tuple. */
export type EventMap<E> = { [K in keyof E]: unknown[] };

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Reports an error thrown by an application listener without breaking the caller's loop: the browser's
 * `reportError` (the console and `window.onerror`), else a rethrow on a fresh task, like EventTarget does.
 */
export function reportListenerError(error: unknown): void {
  const report = (globalThis as { reportError?: (error: unknown) => void }).reportError;
  if (typeof report === 'function') {
    report(error);
    return;
  }
  setTimeout(() => {
    throw error;
  }, 0);
}

/**
 * A small typed event emitter. Listeners run in registration order; a listener that throws is reported
 * (see {@link reportListenerError}) and does not stop the others.
 */
export class Emitter<E extends EventMap<E>> {
  #listeners: { [K in keyof E]?: Listener<E[K]>[] } = {};

  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof E>(event: K, listener: Listener<E[K]>): () => void {
    (this.#listeners[event] ??= []).push(listener);
    return () => this.off(event, listener);
  }

  /** Removes a listener added with `on`. */
  off<K extends keyof E>(event: K, listener: Listener<E[K]>): void {
    const list = this.#listeners[event];
    if (!list) return;
    const index = list.indexOf(listener);
    if (index !== -1) list.splice(index, 1);
  }

  /** True when at least one listener is registered for the event. */
  has<K extends keyof E>(event: K): boolean {
    const list = this.#listeners[event];
    return list !== undefined && list.length > 0;
  }

  emit<K extends keyof E>(event: K, ...args: E[K]): void {
    const list = this.#listeners[event];
    if (!list || list.length === 0) return;
    if (list.length === 1) {
      try {
        list[0]!(...args);
      } catch (error) {
        reportListenerError(error);
      }
      return;
    }
    for (const listener of list.slice()) {
      try {
        listener(...args);
      } catch (error) {
        reportListenerError(error);
      }
    }
  }

  /** Removes every listener. */
  clear(): void {
    this.#listeners = {};
  }
}
