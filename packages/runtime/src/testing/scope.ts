/** Anything a test opens and must close: a server, a client, a store. */
export type Closable = { close(): unknown } | { [Symbol.asyncDispose](): PromiseLike<void> };

/**
 * What a test opened, closed after it — the set-up and tear-down prologue test files share, without a runner
 * dependency: `const scope = new TestScope(); afterEach(() => scope.close());` then
 * `scope.track(await startTestAtmosphere())`. Closes the last opened first (clients before their server),
 * every one of them even when some fail, and then throws the first failure.
 */
export class TestScope {
  readonly #open: Closable[] = [];

  /** Keeps `value` to close; returns it. */
  track<T extends Closable>(value: T): T {
    this.#open.push(value);
    return value;
  }

  /** Closes everything tracked, last first, and forgets it. */
  async close(): Promise<void> {
    const open = this.#open.splice(0).reverse();
    const failures: unknown[] = [];
    for (const value of open) {
      try {
        if ('close' in value) await value.close();
        else await value[Symbol.asyncDispose]();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) throw failures[0];
  }
}
