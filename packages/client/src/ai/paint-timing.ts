import { MAX_TIMING_AGE_MS, MAX_TIMING_SAMPLES, timingMessage } from '@atmosphere/protocol';

/**
 * Paint timing (off by default): for a sample of an AI stream's text frames, when this client received each
 * one and when it was painted, reported to the endpoint in small batches so the server can join them to the
 * run (token → server → client → paint, per-subscriber lag). `true` takes the defaults.
 */
export interface PaintTimingOptions {
  /** The share of text frames timed, 0 to 1. Default 0.1 (the first text frame of a run is always timed). */
  readonly sampleRate?: number;
  /** How long painted samples wait to be sent together (ms). Default 2000; a full batch goes at once. */
  readonly flushMs?: number;
}

/** A sampled frame: run id, seq, received and painted (`performance.now()`, 0 while not painted). */
type Sample = [runId: string, seq: number, receivedAt: number, paintedAt: number];

/**
 * Times the text frames of a stream model: `received` right after the model's state changed (the bindings
 * re-render in a microtask), then the next animation frame — the one that paints the DOM they updated — marks
 * the frame painted. A run's samples go in one `/__timing/` report (PROTOCOL.md §7) through `send`, which
 * sends it as it is (an AI endpoint) or in a room's `timing` message (an AI member's answer, §8).
 */
export class PaintTimer {
  readonly #options: PaintTimingOptions;
  readonly #send: (text: string, runId: string) => void;
  #samples: Sample[] = [];
  #frameAsked = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastRun: string | undefined;

  constructor(options: PaintTimingOptions | true, send: (text: string, runId: string) => void) {
    this.#options = options === true ? {} : options;
    this.#send = send;
  }

  /** A text frame of `runId` reached the model's state. */
  received(runId: string, seq: number): void {
    const first = runId !== this.#lastRun;
    this.#lastRun = runId;
    if (this.#samples.length >= MAX_TIMING_SAMPLES) return;
    if (!first && Math.random() >= (this.#options.sampleRate ?? 0.1)) return;
    this.#samples.push([runId, seq, performance.now(), 0]);
    if (this.#frameAsked) return;
    this.#frameAsked = true;
    const painted = (): void => {
      this.#frameAsked = false;
      const now = performance.now();
      for (const sample of this.#samples) sample[3] ||= now;
      if (this.#samples.length >= MAX_TIMING_SAMPLES) this.flush();
      else this.#timer ??= setTimeout(() => this.flush(), this.#options.flushMs ?? 2000);
    };
    if (typeof requestAnimationFrame === 'function') requestAnimationFrame(painted);
    else setTimeout(painted, 0);
  }

  /** Sends the painted samples now, one message per run; a sample too old for the server is dropped. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const now = performance.now();
    const runs = new Map<string, { seq: number; receivedAgoMs: number; paintedAgoMs: number }[]>();
    for (const [runId, seq, receivedAt, paintedAt] of this.#samples) {
      if (!paintedAt || now - receivedAt > MAX_TIMING_AGE_MS) continue;
      const samples = runs.get(runId) ?? [];
      runs.set(runId, samples);
      samples.push({ seq, receivedAgoMs: now - receivedAt, paintedAgoMs: now - paintedAt });
    }
    for (const [runId, samples] of runs) this.#send(timingMessage(runId, samples), runId);
    this.#samples = this.#samples.filter((sample) => !sample[3]);
  }

  /** Drops what waits (the model disconnected). */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#samples = [];
  }
}
