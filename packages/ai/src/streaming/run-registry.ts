/** Limits of a {@link RunRegistry}. */
export interface RunRegistryOptions {
  /** How long a finished run's frames stay available for re-attach. Default 300 000 ms (the cache's message TTL). */
  readonly ttlMs?: number;
  /** Frames kept per run; past it the oldest go (a re-attaching client then misses them). Default 5 000. */
  readonly maxFramesPerRun?: number;
  /** Runs kept at once; past it the oldest finished (then oldest live) run is forgotten. Default 1 000. */
  readonly maxRuns?: number;
}

/**
 * The frames of one run (one prompt's answer), kept so that a client re-attaching with the run id catches up:
 * frame `seq` n is at index n - 1 until the per-run limit drops the oldest.
 */
export class RunRecord {
  readonly runId: string;
  readonly sessionId: string;
  readonly startedAt = Date.now();
  #frames: string[] = [];
  /** The seq of `#frames[0]`. */
  #firstSeq = 1;
  #finishedAt = 0;
  readonly #max: number;
  readonly #onFinish: (record: RunRecord) => void;

  /** @internal Use {@link RunRegistry.start}. */
  constructor(runId: string, sessionId: string, max: number, onFinish: (record: RunRecord) => void) {
    this.runId = runId;
    this.sessionId = sessionId;
    this.#max = max;
    this.#onFinish = onFinish;
  }

  /** True once the run's session closed. */
  get finished(): boolean {
    return this.#finishedAt !== 0;
  }

  get finishedAt(): number {
    return this.#finishedAt;
  }

  /** The seq of the last frame recorded. */
  get lastSeq(): number {
    return this.#firstSeq + this.#frames.length - 1;
  }

  /** @internal Called by the session for each frame, in seq order. */
  record(frame: string): void {
    if (this.#finishedAt !== 0) return;
    this.#frames.push(frame);
    if (this.#frames.length > this.#max) {
      // Drop a batch rather than one at a time: shifting a large array on every token would be quadratic.
      const drop = Math.max(1, this.#max >> 4);
      this.#frames = this.#frames.slice(drop);
      this.#firstSeq += drop;
    }
  }

  /** @internal Called by the session when it closes. */
  finish(): void {
    if (this.#finishedAt !== 0) return;
    this.#finishedAt = Date.now();
    this.#onFinish(this);
  }

  /** The frames with a seq greater than `lastSeq`, oldest first (those still kept). */
  framesAfter(lastSeq: number): string[] {
    const from = Math.max(0, lastSeq - this.#firstSeq + 1);
    return this.#frames.slice(from);
  }
}

/**
 * Runs by id, for re-attaching (`X-Atmosphere-Run-Id`): a run's frames are kept while it is live and for `ttlMs`
 * after it finished. Memory is bounded by `maxRuns` × `maxFramesPerRun` frames.
 */
export class RunRegistry {
  readonly #runs = new Map<string, RunRecord>();
  readonly #ttlMs: number;
  readonly #maxFrames: number;
  readonly #maxRuns: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RunRegistryOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#maxFrames = options.maxFramesPerRun ?? 5_000;
    this.#maxRuns = options.maxRuns ?? 1_000;
  }

  get size(): number {
    return this.#runs.size;
  }

  /** Starts recording a run. */
  start(runId: string, sessionId: string): RunRecord {
    if (this.#runs.size >= this.#maxRuns) this.#evictOne();
    const record = new RunRecord(runId, sessionId, this.#maxFrames, () => this.#arm());
    this.#runs.set(runId, record);
    return record;
  }

  /** A run that is live or finished less than `ttlMs` ago. */
  get(runId: string): RunRecord | undefined {
    const record = this.#runs.get(runId);
    if (record && record.finished && Date.now() - record.finishedAt > this.#ttlMs) {
      this.#runs.delete(runId);
      return undefined;
    }
    return record;
  }

  /** Forgets finished runs older than the TTL. */
  sweep(now = Date.now()): void {
    for (const [id, record] of this.#runs) {
      if (record.finished && now - record.finishedAt > this.#ttlMs) this.#runs.delete(id);
    }
    if (![...this.#runs.values()].some((r) => r.finished) && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Forgets every run and stops the sweep timer. */
  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#runs.clear();
  }

  #arm(): void {
    if (this.#timer) return;
    // One sweep timer per registry while finished runs wait for their TTL; it does not keep the process alive.
    this.#timer = setInterval(() => this.sweep(), Math.max(50, Math.min(this.#ttlMs, 30_000)));
    this.#timer.unref();
  }

  #evictOne(): void {
    let victim: RunRecord | undefined;
    for (const record of this.#runs.values()) {
      if (
        record.finished &&
        (victim === undefined || !victim.finished || record.finishedAt < victim.finishedAt)
      )
        victim = record;
      else if (victim === undefined) victim = record;
    }
    if (victim) this.#runs.delete(victim.runId);
  }
}
