/**
 * Runs operations one at a time in submission order, re-entrantly safe: an operation submitted while another
 * runs (a virtual member answering inside `onMessage`) waits for it to finish instead of overtaking it. An
 * operation the owner declares blocked (a join waiting for in-flight broadcasts to land) holds back every
 * operation behind it until `resume()`.
 */
export class OrderedQueue<Op> {
  #ops: Op[] = [];
  #running = false;
  readonly #run: (op: Op) => void;
  readonly #blocked: (op: Op) => boolean;

  /** `run` must not throw; `blocked` is asked before each operation. */
  constructor(run: (op: Op) => void, blocked: (op: Op) => boolean) {
    this.#run = run;
    this.#blocked = blocked;
  }

  /** Operations waiting. */
  get size(): number {
    return this.#ops.length;
  }

  /** Runs `op` now if nothing is ahead of it, else after what is. */
  submit(op: Op): void {
    this.#ops.push(op);
    if (!this.#running) this.resume();
  }

  /** Runs waiting operations until the queue is empty or the next one is blocked. */
  resume(): void {
    if (this.#running) return;
    this.#running = true;
    try {
      while (this.#ops.length > 0) {
        const op = this.#ops[0]!;
        if (this.#blocked(op)) return;
        this.#ops.shift();
        this.#run(op);
      }
    } finally {
      this.#running = false;
    }
  }

  /** Removes and returns every waiting operation (the owner is closing). */
  drain(): Op[] {
    const ops = this.#ops;
    this.#ops = [];
    return ops;
  }
}
