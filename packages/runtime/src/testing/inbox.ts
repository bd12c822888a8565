/**
 * Collects values and lets a test wait for them with a timeout (never a sleep): `await inbox.next()`,
 * `await inbox.waitFor((m) => m.includes('x'))`, `await inbox.take(3)`.
 */
export class Inbox<T> {
  readonly items: T[] = [];
  #cursor = 0;
  #waiters: { check: () => boolean; resolve: () => void }[] = [];
  #error: Error | undefined;
  readonly defaultTimeoutMs: number;

  constructor(defaultTimeoutMs = 5_000) {
    this.defaultTimeoutMs = defaultTimeoutMs;
  }

  push(item: T): void {
    this.items.push(item);
    this.#wake();
  }

  /** Makes every current and future wait fail with this error. */
  fail(error: Error): void {
    this.#error = error;
    this.#wake();
  }

  #wake(): void {
    for (const waiter of [...this.#waiters]) if (waiter.check()) waiter.resolve();
  }

  #wait(check: () => boolean, what: string, timeoutMs: number): Promise<void> {
    if (this.#error) return Promise.reject(this.#error);
    if (check()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const waiter = {
        check: () => this.#error !== undefined || check(),
        resolve: () => {
          clearTimeout(timer);
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          if (this.#error) reject(this.#error);
          else resolve();
        },
      };
      const timer = setTimeout(() => {
        this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
        reject(
          new Error(
            `Timed out after ${timeoutMs} ms waiting for ${what}; got ${JSON.stringify(this.items).slice(0, 500)}`,
          ),
        );
      }, timeoutMs);
      this.#waiters.push(waiter);
    });
  }

  /** The next item not yet consumed by next/take/waitFor. */
  async next(timeoutMs = this.defaultTimeoutMs): Promise<T> {
    await this.#wait(() => this.items.length > this.#cursor, 'the next item', timeoutMs);
    return this.items[this.#cursor++]!;
  }

  /** The next `count` items. */
  async take(count: number, timeoutMs = this.defaultTimeoutMs): Promise<T[]> {
    await this.#wait(() => this.items.length >= this.#cursor + count, `${count} items`, timeoutMs);
    const taken = this.items.slice(this.#cursor, this.#cursor + count);
    this.#cursor += count;
    return taken;
  }

  /** The first unconsumed item matching; items before it are consumed too. */
  async waitFor(predicate: (item: T) => boolean, timeoutMs = this.defaultTimeoutMs): Promise<T> {
    let found = -1;
    await this.#wait(
      () => {
        for (let i = this.#cursor; i < this.items.length; i++) {
          if (predicate(this.items[i]!)) {
            found = i;
            return true;
          }
        }
        return false;
      },
      'a matching item',
      timeoutMs,
    );
    this.#cursor = found + 1;
    return this.items[found]!;
  }

  /** Waits until at least `count` items arrived in all (consumed or not). */
  async waitForCount(count: number, timeoutMs = this.defaultTimeoutMs): Promise<T[]> {
    await this.#wait(() => this.items.length >= count, `${count} items in all`, timeoutMs);
    return this.items.slice(0, count);
  }
}

/** Resolves when `emitter` emits `event` (rejects after the timeout). */
export function once<T = unknown>(
  emitter: { once(event: string, listener: (...args: never[]) => void): unknown },
  event: string,
  timeoutMs = 5_000,
): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`Timed out after ${timeoutMs} ms waiting for '${event}'`)),
      timeoutMs,
    );
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}

/**
 * Polls a condition until true (for server-side state with no event to wait on); fails after the timeout. An
 * asynchronous condition (a probe request) is awaited before the next poll.
 */
export async function eventually(
  condition: () => boolean | Promise<boolean>,
  what = 'the condition',
  timeoutMs = 5_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
