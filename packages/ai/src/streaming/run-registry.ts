import { errorFrame, isTerminalFrame, parseAiFrame } from '@atmosphere/protocol';
import { AtmosphereError } from '@atmosphere/runtime';
import {
  type AppendOptions,
  BATCH_ENTRIES,
  BATCH_PAYLOAD,
  type LogEntry,
  type Logger,
  type StreamLog,
} from '@atmosphere/runtime/spi';

/** The code of the terminal frame that ends a run whose process died mid-answer (policy `close`). */
export const INTERRUPTED_CODE = 'INTERRUPTED';

/** The append options of a producer of attempt `attempt` (its fencing token) on a log that fences. */
function fenceOption(log: StreamLog, attempt: number | undefined): AppendOptions | undefined {
  return attempt !== undefined && log.fencing === true ? { fence: attempt } : undefined;
}

/** The log stream that holds a run's frames: `ai-run:<runId>`. */
export function runStream(runId: string): string {
  return `ai-run:${runId}`;
}

/** The log stream that holds what a run needs to be continued after a restart: `ai-run-meta:<runId>`. */
export function runMetaStream(runId: string): string {
  return `ai-run-meta:${runId}`;
}

/**
 * What a run was asked, kept in the durable log beside its frames so that a restarted process can continue
 * the answer (policy `continue`): the prompt, the conversation and the pipeline settings of the call.
 */
export interface RunDescriptor {
  readonly prompt: string;
  readonly conversationId: string;
  readonly systemPrompt?: string | undefined;
  readonly model?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
}

/** A run read back from the durable log: its frames, whether they end it, and what continuing it needs. */
export interface StoredRun {
  readonly frames: readonly string[];
  /** The last frame is terminal (`complete`, `error`): the run ended before the restart. */
  readonly terminal: boolean;
  /** Undefined when the run cannot be continued (it did not go through the pipeline, or predates this). */
  readonly descriptor: RunDescriptor | undefined;
  /** Continuations already started for this run (each counts against the endpoint's `maxAttempts`). */
  readonly attempts: number;
  /**
   * The run's owner: the SHA-256 digest of the asker's session token (`runOwnerOf`); `null` when the log
   * records that the asker had no session; `undefined` when the log holds no owner record (its append failed,
   * or it was trimmed or deleted) — then nobody is known to own the run.
   */
  readonly owner?: string | null | undefined;
}

/** Limits of a {@link RunRegistry}. */
export interface RunRegistryOptions {
  /** How long a finished run's frames stay available for re-attach. Default 300 000 ms (the cache's message TTL). */
  readonly ttlMs?: number;
  /** Frames kept per run; past it the oldest go (a re-attaching client then misses them). Default 5 000. */
  readonly maxFramesPerRun?: number;
  /** Runs kept at once; past it the oldest finished (then oldest live) run is forgotten. Default 1 000. */
  readonly maxRuns?: number;
  /**
   * A durable stream log (SQLite, Redis): every frame of every run is appended to its stream
   * (`ai-run:<runId>`, log seq = frame seq) before it is sent, so that a client re-attaching after a restart
   * catches up from the log ({@link RunRegistry.recover}). Default: none (runs live in this process only).
   */
  readonly log?: StreamLog;
  /** Where failures to append to the log are reported. */
  readonly logger?: Logger;
  /**
   * A run's append was refused because another node took the run over (its log fenced the run's stream past
   * this node's token: `LOG_FENCED`): this node must stop producing it. Called once per run; nothing more of
   * that run is appended from here.
   */
  readonly onSuperseded?: (runId: string) => void;
}

/**
 * The frames of one run (one prompt's answer), kept so that a client re-attaching with the run id catches up:
 * frame `seq` n is at index n - 1 until the per-run limit drops the oldest.
 */
export class RunRecord {
  readonly runId: string;
  readonly sessionId: string;
  /**
   * Who owns the run: the SHA-256 digest (hex) of the asker's session token (`runOwnerOf`), never the
   * token. A connection presenting the same token (a reload, a reconnect after a restart) is the owner again.
   * Undefined when the asker had no session.
   */
  readonly owner: string | undefined;
  readonly startedAt = Date.now();
  #frames: string[] = [];
  /** The seq of `#frames[0]`. */
  #firstSeq = 1;
  #finishedAt = 0;
  readonly #max: number;
  readonly #onFinish: (record: RunRecord) => void;
  readonly #persist: ((frame: string) => void) | undefined;

  /** @internal Use {@link RunRegistry.start}. */
  constructor(
    runId: string,
    sessionId: string,
    max: number,
    onFinish: (record: RunRecord) => void,
    persist?: (frame: string) => void,
    owner?: string,
  ) {
    this.runId = runId;
    this.sessionId = sessionId;
    this.owner = owner;
    this.#max = max;
    this.#onFinish = onFinish;
    this.#persist = persist;
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

  /** @internal Frames read back from the durable log (seq 1…n): kept for re-attach, not appended again. */
  seed(frames: readonly string[]): void {
    if (this.#frames.length > 0 || frames.length === 0) return;
    this.#frames = frames.slice(Math.max(0, frames.length - this.#max));
    this.#firstSeq = frames.length - this.#frames.length + 1;
  }

  /** @internal Called by the session for each frame, in seq order. */
  record(frame: string): void {
    if (this.#finishedAt !== 0) return;
    this.#persist?.(frame);
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
  readonly #log: StreamLog | undefined;
  readonly #logger: Logger | undefined;
  readonly #onSuperseded: ((runId: string) => void) | undefined;
  readonly #recovering = new Map<string, Promise<StoredRun | undefined>>();
  readonly #closing = new Map<string, Promise<string[] | undefined>>();
  /** The last append of each run still on its way to an asynchronous log (settled, never rejected). */
  readonly #appending = new Map<string, Promise<void>>();
  #timer: NodeJS.Timeout | undefined;

  constructor(options: RunRegistryOptions = {}) {
    this.#ttlMs = options.ttlMs ?? 300_000;
    this.#maxFrames = options.maxFramesPerRun ?? 5_000;
    this.#maxRuns = options.maxRuns ?? 1_000;
    this.#log = options.log;
    this.#logger = options.logger;
    this.#onSuperseded = options.onSuperseded;
  }

  /** True when runs are kept in a durable log and can be recovered after a restart. */
  get durable(): boolean {
    return this.#log !== undefined;
  }

  /**
   * A run this process does not hold (it ran before a restart, or on a process that died), from the durable
   * log: its frames with a seq greater than `lastSeq`. When the log's last frame is not terminal, the run's
   * producer died mid-answer: a terminal `error` frame with code `INTERRUPTED` is appended once (policy
   * `close`) and returned last, so that every client sees the same clear end, after exactly the frames it
   * missed. `undefined` when there is no durable log or it holds no such run.
   */
  recover(runId: string, lastSeq: number): Promise<string[] | undefined> {
    let pending = this.#closing.get(runId);
    if (pending === undefined) {
      pending = this.read(runId)
        .then(async (stored) => {
          if (stored === undefined) return undefined;
          return stored.terminal ? [...stored.frames] : await this.interrupt(runId, stored.frames);
        })
        .finally(() => this.#closing.delete(runId));
      this.#closing.set(runId, pending);
    }
    return pending.then((frames) => frames?.slice(Math.max(0, lastSeq)));
  }

  /**
   * A run from the durable log, read once however many clients ask at the same time: every frame from seq 1,
   * whether the last one ends it, and what continuing it needs. `undefined` when there is no durable log, it
   * holds no such run, or the run's first frames were trimmed (it cannot be given back exactly).
   */
  read(runId: string): Promise<StoredRun | undefined> {
    const log = this.#log;
    if (log === undefined) return Promise.resolve(undefined);
    let pending = this.#recovering.get(runId);
    if (pending === undefined) {
      pending = this.#readRun(log, runId).finally(() => this.#recovering.delete(runId));
      this.#recovering.set(runId, pending);
    }
    return pending;
  }

  /**
   * The frames of a run after seq `after`, read from the durable log, and whether the last of them ends it:
   * what a node following a run that another node produces reads at each poll. `undefined` when there is no
   * durable log, it holds no such run, or it no longer holds the frames right after `after` (trimmed).
   */
  async framesSince(
    runId: string,
    after: number,
  ): Promise<{ frames: string[]; terminal: boolean } | undefined> {
    const log = this.#log;
    const frames = log === undefined ? undefined : await readAll(log, runStream(runId), after, 'missing');
    if (frames === undefined) return undefined;
    const last = frames.length === 0 ? undefined : parseAiFrame(frames.at(-1)!);
    return { frames, terminal: last !== undefined && isTerminalFrame(last) };
  }

  /**
   * Ends a stored run that is not terminal with `INTERRUPTED` (appended to the log, under fencing token `fence`
   * when given: see {@link RunRegistry.fence}); returns all its frames.
   */
  async interrupt(runId: string, frames: readonly string[], fence?: number): Promise<string[]> {
    const log = this.#log;
    const sessionId = parseAiFrame(frames[0] ?? '')?.sessionId ?? runId;
    const interrupted = errorFrame(
      'The answer was interrupted: the server that produced it stopped before it finished. The text so far is kept; send the prompt again for a full answer.',
      INTERRUPTED_CODE,
      sessionId,
      frames.length + 1,
    );
    if (log !== undefined)
      await log.append(runStream(runId), [{ payload: interrupted }], fenceOption(log, fence));
    return [...frames, interrupted];
  }

  /**
   * Takes a run over from whoever produced it before (attempt `attempt`: 0 for the first producer, one more per
   * continuation): on a log that fences (Redis), the run's stream is fenced at `attempt`, so that a producer of
   * an earlier attempt — a node whose lease expired while it still ran — can no longer append to it; its next
   * append is refused and it stops (`onSuperseded`). Frames it appended before are the run's, read after this.
   * A no-op on a log that does not fence.
   */
  async fence(runId: string, attempt: number): Promise<void> {
    const log = this.#log;
    if (log?.fencing === true && log.fence !== undefined) await log.fence(runStream(runId), attempt);
  }

  /**
   * Resolves once every frame of the run handed to the log so far is written (or failed, and reported): the
   * frames of this turn are issued first. Appends of one log reach it in order, so the last one is enough.
   */
  async appended(runId: string): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    await this.#appending.get(runId);
  }

  /** Keeps what a run was asked (see {@link RunDescriptor}) in the durable log; a no-op without one. */
  describe(runId: string, descriptor: RunDescriptor): void {
    this.#appendMeta(runId, { descriptor });
  }

  /** Counts one more continuation of a run in the durable log (before it starts). */
  async countAttempt(runId: string, attempt: number): Promise<void> {
    const log = this.#log;
    if (log !== undefined) await log.append(runMetaStream(runId), [{ payload: JSON.stringify({ attempt }) }]);
  }

  /**
   * A run read back from the log, kept in memory from now on (finished unless a continuation records to it,
   * appending under fencing token `attempt`: see {@link RunRegistry.fence}).
   */
  restore(runId: string, stored: StoredRun, finished: boolean, attempt = 0): RunRecord {
    const sessionId = parseAiFrame(stored.frames[0] ?? '')?.sessionId ?? runId;
    const record = finished
      ? new RunRecord(
          runId,
          sessionId,
          this.#maxFrames,
          () => this.#arm(),
          undefined,
          stored.owner ?? undefined,
        )
      : this.#create(runId, sessionId, stored.owner ?? undefined, attempt);
    record.seed(stored.frames);
    if (finished) {
      if (this.#runs.size >= this.#maxRuns) this.#evictOne();
      this.#runs.set(runId, record);
      record.finish();
    }
    return record;
  }

  #appendMeta(runId: string, value: Readonly<Record<string, unknown>>): void {
    const log = this.#log;
    if (log === undefined) return;
    const failed = (error: unknown): void =>
      this.#logger?.error(`run ${runId}: its description could not be appended to the ${log.name} log`, {
        error,
      });
    try {
      const result = log.append(runMetaStream(runId), [{ payload: JSON.stringify(value) }]);
      if (result instanceof Promise) result.catch(failed);
    } catch (error) {
      failed(error);
    }
  }

  /** Every frame of a run from seq 1, and its description and attempts. */
  async #readRun(log: StreamLog, runId: string): Promise<StoredRun | undefined> {
    const frames = await readAll(log, runStream(runId));
    if (frames === undefined || frames.length === 0) return undefined;
    const last = parseAiFrame(frames.at(-1)!);
    const terminal = last !== undefined && isTerminalFrame(last);
    let descriptor: RunDescriptor | undefined;
    let attempts = 0;
    let owner: string | null | undefined;
    if (!terminal) {
      for (const payload of (await readAll(log, runMetaStream(runId))) ?? []) {
        const value = parseMeta(payload);
        if (value?.descriptor !== undefined && descriptor === undefined) descriptor = value.descriptor;
        if (typeof value?.attempt === 'number') attempts = Math.max(attempts, value.attempt);
        if (value?.owner !== undefined && owner === undefined) owner = value.owner;
      }
    }
    return { frames, terminal, descriptor, attempts, owner };
  }

  get size(): number {
    return this.#runs.size;
  }

  /**
   * Starts recording a run. `owner` is the SHA-256 digest of the asker's session token (`runOwnerOf`),
   * kept with the run (and in the durable log beside its description) so that the asker's session is its
   * owner again after a reload or a restart. An asker without a session is recorded too (`owner: null`):
   * a run whose log holds no owner record at all is then known to have lost it, not to be anyone's.
   */
  start(runId: string, sessionId: string, owner?: string): RunRecord {
    this.#appendMeta(runId, { owner: owner ?? null });
    return this.#create(runId, sessionId, owner);
  }

  #create(runId: string, sessionId: string, owner: string | undefined, attempt = 0): RunRecord {
    if (this.#runs.size >= this.#maxRuns) this.#evictOne();
    const record = new RunRecord(
      runId,
      sessionId,
      this.#maxFrames,
      () => this.#arm(),
      this.#log === undefined ? undefined : this.#persister(this.#log, runId, attempt),
      owner,
    );
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

  /**
   * Appends each frame to the run's stream; a failure is reported (the frame still goes to live clients). A
   * store that takes a turn's appends together (`batchAppends`: SQLite, Redis) gets the frames of one turn —
   * the tokens of one provider chunk, however many promise steps the runtime takes over them — in one
   * `append` (up to `BATCH_ENTRIES` frames and `BATCH_PAYLOAD` characters, the broadcaster's bounds: a frame
   * that would take a batch past either starts the next one; a single larger frame goes alone), issued once the turn's promise work is done (`process.nextTick`,
   * before the event loop moves on): still in the turn the frames were broadcast, so SQLite commits the run's
   * copy in the same transaction as the frames sent and Redis gets it in the same pipeline. Other stores get
   * one append per frame.
   */
  #persister(log: StreamLog, runId: string, attempt: number): (frame: string) => void {
    const stream = runStream(runId);
    const options = fenceOption(log, attempt);
    /** Another node took the run over: nothing more is appended from here. */
    let superseded = false;
    const failed = (error: unknown): void => {
      if (AtmosphereError.isInstance(error) && error.code === 'LOG_FENCED') {
        if (superseded) return;
        superseded = true;
        this.#logger?.warn(
          `run ${runId}: another node took the run over (this node's lease expired while it produced it); this node stops producing it`,
          { error },
        );
        this.#onSuperseded?.(runId);
        return;
      }
      this.#logger?.error(`run ${runId}: a frame could not be appended to the ${log.name} log`, { error });
    };
    const append = (entries: LogEntry[]): void => {
      if (superseded) return;
      try {
        const result = log.append(stream, entries, options);
        if (result instanceof Promise) {
          const settled = result.then(() => undefined, failed);
          this.#appending.set(runId, settled);
          void settled.then(() => {
            if (this.#appending.get(runId) === settled) this.#appending.delete(runId);
          });
        }
      } catch (error) {
        failed(error);
      }
    };
    if (log.batchAppends !== true) return (frame) => append([{ payload: frame }]);
    let batch: LogEntry[] | undefined;
    /** The characters of the frames in `batch`. */
    let size = 0;
    const flush = (): void => {
      const entries = batch;
      batch = undefined;
      if (entries !== undefined && entries.length > 0) append(entries);
    };
    return (frame) => {
      if (batch !== undefined && (batch.length >= BATCH_ENTRIES || size + frame.length > BATCH_PAYLOAD))
        flush();
      if (batch === undefined) {
        batch = [];
        size = 0;
        process.nextTick(flush);
      }
      batch.push({ payload: frame });
      size += frame.length;
    };
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

/**
 * Every record of a stream after seq `after` (by default from seq 1), as text; undefined when the records right
 * after `after` were trimmed. A stream the log does not know has no records, or (`missing`) gives undefined too.
 */
async function readAll(
  log: StreamLog,
  stream: string,
  after = 0,
  unknown: 'empty' | 'missing' = 'empty',
): Promise<string[] | undefined> {
  const payloads: string[] = [];
  let from = after;
  for (let pages = 0; pages < 1_000; pages++) {
    const read = await log.read(stream, from);
    if (read === undefined) return pages > 0 || unknown === 'empty' ? payloads : undefined;
    // Records trimmed from the log cannot be recovered exactly: the client must be told, not given a gap.
    if (read.first > from + 1) return undefined;
    for (const record of read.records) payloads.push(payloadText(record.payload));
    if (read.records.length === 0 || read.records.at(-1)!.seq >= read.last) break;
    from = read.records.at(-1)!.seq;
  }
  return payloads;
}

/** A digest as {@link runOwnerOf} makes it: 64 hex digits. */
const OWNER_DIGEST = /^[0-9a-f]{64}$/;

function parseMeta(
  payload: string,
): { descriptor?: RunDescriptor; attempt?: number; owner?: string | null } | undefined {
  try {
    const value: unknown = JSON.parse(payload);
    if (value === null || typeof value !== 'object') return undefined;
    const { descriptor, attempt, owner } = value as {
      descriptor?: unknown;
      attempt?: unknown;
      owner?: unknown;
    };
    const result: { descriptor?: RunDescriptor; attempt?: number; owner?: string | null } = {};
    if (owner === null || (typeof owner === 'string' && OWNER_DIGEST.test(owner))) result.owner = owner;
    if (
      descriptor !== null &&
      typeof descriptor === 'object' &&
      typeof (descriptor as RunDescriptor).prompt === 'string' &&
      typeof (descriptor as RunDescriptor).conversationId === 'string'
    )
      result.descriptor = descriptor as RunDescriptor;
    if (typeof attempt === 'number' && Number.isInteger(attempt)) result.attempt = attempt;
    return result;
  } catch {
    return undefined;
  }
}

function payloadText(payload: string | Uint8Array): string {
  return typeof payload === 'string' ? payload : Buffer.from(payload).toString();
}
