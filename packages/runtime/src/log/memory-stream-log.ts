import { randomUUID } from 'node:crypto';
import { Deque } from '../util/deque.ts';
import { dropOldestAcross } from '../util/drop-oldest.ts';
import { AtmosphereError } from '../errors.ts';
import type {
  AppendOptions,
  LogEntry,
  LogRead,
  LogReadOptions,
  LogRecord,
  StreamLog,
  StreamPosition,
  StreamState,
} from '../spi/stream-log.ts';

/** The limits of the memory log. Every one bounds memory; the oldest records go first. */
export interface MemoryStreamLogLimits {
  /** Records kept per stream. Default 10 000. */
  maxRecordsPerStream: number;
  /** Payload bytes kept per stream (UTF-16 text counts 2 bytes a character). Default 16 MiB. */
  maxBytesPerStream: number;
  /** A record older than this is dropped. Default 300 000 ms (the cache's message TTL, PROTOCOL.md §6). */
  maxAgeMs: number;
  /** Records kept in all streams together. Default 100 000. */
  maxRecords: number;
  /** Payload bytes kept in all streams together. Default 64 MiB. */
  maxBytes: number;
  /**
   * Streams remembered (epoch and numbering) at most; past it, the ones appended to longest ago are
   * forgotten, and a subscriber that comes back to one is told its history was lost. Default 100 000.
   */
  maxStreams: number;
  /** Most records one read returns. Default 10 000. */
  readLimit: number;
}

export const DEFAULT_MEMORY_LOG_LIMITS: Readonly<MemoryStreamLogLimits> = Object.freeze({
  maxRecordsPerStream: 10_000,
  maxBytesPerStream: 16 * 1024 * 1024,
  maxAgeMs: 300_000,
  maxRecords: 100_000,
  maxBytes: 64 * 1024 * 1024,
  maxStreams: 100_000,
  readLimit: 10_000,
});

/** What a record costs in memory, roughly: its payload. */
function sizeOf(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? payload.length * 2 : payload.byteLength;
}

class MemoryStream {
  readonly epoch = randomUUID();
  readonly records = new Deque<LogRecord>();
  /** The seq of the newest record appended. */
  last = 0;
  bytes = 0;
  lastAppendAt = 0;

  get first(): number {
    const head = this.records.peek();
    return head === undefined ? this.last + 1 : head.seq;
  }
}

/**
 * The log in memory: the runtime's default. Positions are exact within the process; the epoch of every
 * stream changes when the process restarts (a subscriber that comes back to a new process with an old
 * position is told its history was lost). Appends and reads answer synchronously.
 */
export class MemoryStreamLog implements StreamLog {
  readonly name = 'memory';
  readonly durable = false;
  readonly shared = false;
  readonly fencing = true;
  readonly limits: Readonly<MemoryStreamLogLimits>;
  /** Streams in order of their last append (a Map keeps insertion order: re-inserted when another was appended to since). */
  readonly #streams = new Map<string, MemoryStream>();
  /** The stream appended to last: the last in `#streams`. */
  #newest: MemoryStream | undefined;
  /** Each fenced stream's token (bounded like the streams: the oldest fence goes first). */
  readonly #fences = new Map<string, number>();
  #records = 0;
  #bytes = 0;
  #closed = false;

  constructor(limits: Partial<MemoryStreamLogLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_MEMORY_LOG_LIMITS, ...limits });
  }

  /** Records and payload bytes held, and streams remembered. */
  stats(): { streams: number; records: number; bytes: number } {
    return { streams: this.#streams.size, records: this.#records, bytes: this.#bytes };
  }

  append(stream: string, entries: readonly LogEntry[], options?: AppendOptions): StreamPosition {
    this.#assertOpen();
    if (options?.fence !== undefined) {
      const fence = this.#fences.get(stream);
      if (fence !== undefined && options.fence < fence)
        throw fencedError('memory', stream, options.fence, fence);
    }
    let state = this.#streams.get(stream);
    if (state === undefined) {
      state = new MemoryStream();
      if (this.#streams.size >= this.limits.maxStreams) this.#forgetOldestStream();
      this.#streams.set(stream, state);
    } else if (state !== this.#newest) {
      // Most recently appended last: the oldest stream is the first in the map. A stream appended to again
      // is last already (a delete and set per append would leave the map a deleted entry each time).
      this.#streams.delete(stream);
      this.#streams.set(stream, state);
    }
    this.#newest = state;
    const now = Date.now();
    state.lastAppendAt = now;
    const first = state.last + 1;
    for (const entry of entries) {
      const record: LogRecord = copyEntry(entry, ++state.last, now);
      const size = sizeOf(record.payload);
      state.records.push(record);
      state.bytes += size;
      this.#records++;
      this.#bytes += size;
    }
    const limits = this.limits;
    while (
      state.records.length > 0 &&
      (state.records.length > limits.maxRecordsPerStream || state.bytes > limits.maxBytesPerStream)
    )
      this.#dropOldest(state);
    return { epoch: state.epoch, seq: first };
  }

  read(stream: string, after: number, options: LogReadOptions = {}): LogRead | undefined {
    this.#assertOpen();
    const state = this.#streams.get(stream);
    if (state === undefined) return undefined;
    const limit = Math.max(0, Math.min(options.limit ?? this.limits.readLimit, this.limits.readLimit));
    const records: LogRecord[] = [];
    const queue = state.records;
    const first = state.first;
    // Records are consecutive from `first`: the one after `after` is at a known index.
    const from = Math.max(0, after + 1 - first);
    for (let i = from; i < queue.length && records.length < limit; i++) records.push(queue.at(i)!);
    return { epoch: state.epoch, first, last: state.last, records };
  }

  state(stream: string): StreamState | undefined {
    this.#assertOpen();
    const state = this.#streams.get(stream);
    return state === undefined ? undefined : { epoch: state.epoch, first: state.first, last: state.last };
  }

  fence(stream: string, token: number): void {
    this.#assertOpen();
    const fence = this.#fences.get(stream);
    if (fence !== undefined && fence >= token) return;
    this.#fences.delete(stream);
    if (this.#fences.size >= this.limits.maxStreams) this.#fences.delete(this.#fences.keys().next().value!);
    this.#fences.set(stream, token);
  }

  trim(stream: string, before: number): void {
    this.#assertOpen();
    const state = this.#streams.get(stream);
    if (state === undefined) return;
    while (state.records.length > 0 && state.records.peek()!.seq < before) this.#dropOldest(state);
  }

  delete(stream: string): void {
    this.#assertOpen();
    this.#fences.delete(stream);
    const state = this.#streams.get(stream);
    if (state === undefined) return;
    this.#records -= state.records.length;
    this.#bytes -= state.bytes;
    this.#streams.delete(stream);
    if (this.#newest === state) this.#newest = undefined;
  }

  sweep(now: number): void {
    if (this.#closed) return;
    const limits = this.limits;
    const oldest = now - limits.maxAgeMs;
    for (const state of this.#streams.values()) {
      while (state.records.length > 0 && state.records.peek()!.time < oldest) this.#dropOldest(state);
    }
    if (this.#records <= limits.maxRecords && this.#bytes <= limits.maxBytes) return;
    // Over a total: the oldest records go first, across streams.
    dropOldestAcross(
      this.#streams.values(),
      (state) => state.records.peek()!.time,
      (state) => state.records.length,
      (state) => this.#dropOldest(state),
      () => this.#records > limits.maxRecords || this.#bytes > limits.maxBytes,
    );
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#streams.clear();
    this.#newest = undefined;
    this.#fences.clear();
    this.#records = 0;
    this.#bytes = 0;
  }

  #dropOldest(state: MemoryStream): void {
    const record = state.records.shift();
    if (record === undefined) return;
    const size = sizeOf(record.payload);
    state.bytes -= size;
    this.#records--;
    this.#bytes -= size;
  }

  #forgetOldestStream(): void {
    const oldest = this.#streams.keys().next();
    if (!oldest.done) this.delete(oldest.value);
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The memory stream log is closed.');
  }
}

/** The refusal of an append under an older fencing token than the stream's (every store words it so). */
function fencedError(store: string, stream: string, token: number, fence: number): AtmosphereError {
  return new AtmosphereError(
    'LOG_FENCED',
    `The ${store} stream log refused an append to stream ${stream} under fencing token ${token}: the stream is fenced at ${fence} (another writer took it over).`,
  );
}

/** A record of its own: the caller's arrays may change after the append. */
function copyEntry(entry: LogEntry, seq: number, time: number): LogRecord {
  const record: {
    seq: number;
    time: number;
    payload: string | Uint8Array;
    targets?: readonly string[];
    exclude?: string;
  } = { seq, time, payload: entry.payload };
  if (entry.targets !== undefined)
    record.targets = Object.isFrozen(entry.targets) ? entry.targets : [...entry.targets];
  if (entry.exclude !== undefined) record.exclude = entry.exclude;
  return record;
}
