/**
 * Work still running (handler calls, inbound messages) that a shutdown waits for: counted, not kept. A `Set`
 * of the promises cost an add and a delete per message, and a set whose entries come and go keeps what passed
 * through it alive through young-generation collections once its table is promoted (see `ChurnMap`).
 */
export class InFlight {
  #count = 0;
  #waiting: (() => void)[] = [];

  /** How much is running. */
  get size(): number {
    return this.#count;
  }

  /** One more piece of work started; `leave` once it settled. */
  enter(): void {
    this.#count++;
  }

  /** A piece of work settled. */
  readonly leave = (): void => {
    if (--this.#count > 0 || this.#waiting.length === 0) return;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resolve of waiting) resolve();
  };

  /** Counts `work` until it settles (fulfilled or rejected). */
  track(work: Promise<unknown>): void {
    this.enter();
    void work.then(this.leave, this.leave);
  }

  /** Resolves once nothing is running (at once when nothing is). */
  idle(): Promise<void> {
    return this.#count === 0 ? Promise.resolve() : new Promise((resolve) => this.#waiting.push(resolve));
  }
}
