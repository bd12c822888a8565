import { delay, nextTurn, now } from '../lib/clock.ts';
import { makePayload } from '../lib/payload.ts';

/** One fan-out phase as the orchestrator asks for it. */
export interface FanoutPlan {
  /** Sequence number of the first broadcast (phases continue the numbering). */
  firstSeq: number;
  count: number;
  /**
   * `max`: as fast as the clients take it: a broadcast goes out only while it is within the credit window
   * the orchestrator grants from the clients' progress (bounded queues, so nobody measures buffer growth).
   * `paced`: one broadcast every `intervalMs`.
   */
  mode: 'max' | 'paced';
  intervalMs: number;
  /** The phase stops broadcasting after this long, whatever remains. */
  timeoutMs: number;
}

export interface FanoutSent {
  sent: number;
  elapsedMs: number;
  /** Max rate: time spent waiting for credit (the clients were behind by the whole window). */
  creditWaitMs: number;
}

/** Drives broadcasts of timestamped 64-byte payloads through a server's `broadcast`. */
export class FanoutDriver {
  readonly #broadcast: (payload: string) => void;
  #credit = 0;
  #wake: (() => void) | undefined;
  #stopped = false;

  constructor(broadcast: (payload: string) => void) {
    this.#broadcast = broadcast;
  }

  /** Allows broadcasting up to (and including) sequence number `upTo`. */
  grant(upTo: number): void {
    if (upTo <= this.#credit) return;
    this.#credit = upTo;
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }

  stop(): void {
    this.#stopped = true;
    this.#wake?.();
  }

  async run(plan: FanoutPlan): Promise<FanoutSent> {
    this.#stopped = false;
    const started = performance.now();
    const deadline = started + plan.timeoutMs;
    const last = plan.firstSeq + plan.count - 1;
    let seq = plan.firstSeq;
    let creditWaitMs = 0;
    if (plan.mode === 'paced') {
      for (; seq <= last && !this.#stopped; seq++) {
        const due = started + (seq - plan.firstSeq) * plan.intervalMs;
        const wait = due - performance.now();
        if (wait > 1) await delay(wait);
        if (performance.now() > deadline) break;
        this.#broadcast(makePayload(seq, now()));
      }
    } else {
      while (seq <= last && !this.#stopped && performance.now() < deadline) {
        if (seq > this.#credit) {
          const waitStarted = performance.now();
          await this.#waitForCredit(deadline);
          creditWaitMs += performance.now() - waitStarted;
          continue;
        }
        this.#broadcast(makePayload(seq, now()));
        seq++;
        // One broadcast per turn: socket writes, credits and IPC get their turn in between.
        await nextTurn();
      }
    }
    return { sent: seq - plan.firstSeq, elapsedMs: performance.now() - started, creditWaitMs };
  }

  #waitForCredit(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(
        () => {
          this.#wake = undefined;
          resolve();
        },
        Math.max(1, Math.min(250, deadline - performance.now())),
      );
      this.#wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}
