import { randomUUID } from 'node:crypto';
import { AtmosphereError } from '@atmosphere/runtime';
import type {
  LogEntry,
  LogRead,
  LogReadOptions,
  LogRecord,
  StreamLog,
  StreamPosition,
  StreamState,
} from '@atmosphere/runtime/spi';
import { type RedisArgument, type RedisCommandsLike, RedisScript } from './connection.ts';

/** Limits of the Redis log. Trimming never renumbers; a reader behind the oldest record sees the gap. */
export interface RedisStreamLogLimits {
  /** Records kept per stream; past it the oldest go (exactly, inside the append). Default 10 000. */
  maxRecordsPerStream: number;
  /**
   * A stream with no append for this long expires with its records (a subscriber that comes back to it is
   * told its history was lost). Default 86 400 000 ms (24 h, the session TTL); 0 = never.
   */
  streamTtlMs: number;
  /** Most records one read returns. Default 10 000. */
  readLimit: number;
}

/** Defaults of {@link RedisStreamLogLimits}. */
export const DEFAULT_REDIS_LOG_LIMITS: Readonly<RedisStreamLogLimits> = Object.freeze({
  maxRecordsPerStream: 10_000,
  streamTtlMs: 86_400_000,
  readLimit: 10_000,
});

/** Flags of a record: bit 1 = binary payload, 2 = has targets, 4 = has exclude. */
const BINARY = 1;
const TARGETS = 2;
const EXCLUDE = 4;

/** An append waiting for the end of its turn: where its entries start in the batch, and its promise. */
interface PendingWaiter {
  readonly offset: number;
  readonly resolve: (position: StreamPosition) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingBatch {
  readonly entries: LogEntry[];
  readonly waiters: PendingWaiter[];
}

/** Most entries in one script call (a longer burst of one turn is written in several, in order). */
const MAX_BATCH = 1_000;

// KEYS: meta, log. ARGV: epoch candidate, now, max records, ttl ms, entry count, then per entry
// payload, flags, targets JSON, exclude. The script numbers the entries: the position is assigned once, by the
// log, atomically with the write; the stream entry id is `0-<seq>` so that XRANGE serves a gap by position.
const APPEND = new RedisScript(`
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local first, last
if not epoch then
  epoch = ARGV[1]
  first = 1
  last = 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
else
  first = tonumber(redis.call('HGET', KEYS[1], 'first'))
  last = tonumber(redis.call('HGET', KEYS[1], 'last'))
end
local start = last + 1
local n = tonumber(ARGV[5])
for i = 0, n - 1 do
  local base = 6 + i * 4
  last = last + 1
  redis.call('XADD', KEYS[2], string.format('0-%d', last), 'p', ARGV[base], 'f', ARGV[base + 1], 't', ARGV[base + 2], 'x', ARGV[base + 3], 'm', ARGV[2])
end
local max = tonumber(ARGV[3])
if last - first + 1 > max then
  first = last - max + 1
  redis.call('XTRIM', KEYS[2], 'MINID', string.format('0-%d', first))
end
redis.call('HSET', KEYS[1], 'first', first, 'last', last)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {epoch, start}
`);

// KEYS: meta, log. ARGV: after, limit. State and records in one atomic read.
const READ = new RedisScript(`
local m = redis.call('HMGET', KEYS[1], 'epoch', 'first', 'last')
if not m[1] then return false end
local records = redis.call('XRANGE', KEYS[2], string.format('(0-%d', tonumber(ARGV[1])), '+', 'COUNT', ARGV[2])
return {m[1], m[2], m[3], records}
`);

// KEYS: meta, log. ARGV: before.
const TRIM = new RedisScript(`
local m = redis.call('HMGET', KEYS[1], 'first', 'last')
if not m[1] then return 0 end
local first = tonumber(m[1])
local last = tonumber(m[2])
local target = math.max(first, math.min(tonumber(ARGV[1]), last + 1))
if target ~= first then
  redis.call('XTRIM', KEYS[2], 'MINID', string.format('0-%d', target))
  redis.call('HSET', KEYS[1], 'first', target)
end
return target
`);

function closedError(): AtmosphereError {
  return new AtmosphereError('CLOSED', 'The redis stream log is closed.');
}

function failed(operation: string, stream: string, error: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(error)) return error;
  return new AtmosphereError(
    'LOG_FAILED',
    `The Redis stream log could not ${operation} stream ${stream}: ${(error as Error).message}. ` +
      'Check that Redis (ATMOSPHERE_REDIS_URL / redisStreamLog({ url })) is up.',
    { cause: error },
  );
}

function text(value: unknown): string {
  return Buffer.isBuffer(value) ? value.toString('utf8') : String(value);
}

/** One XRANGE entry (`[id, [field, value, …]]`, bulk strings as Buffers) as a record. */
function toRecord(entry: unknown): LogRecord {
  const [id, fields] = entry as [Buffer, Buffer[]];
  const values = new Map<string, Buffer>();
  for (let i = 0; i + 1 < fields.length; i += 2) values.set(fields[i]!.toString('latin1'), fields[i + 1]!);
  const flags = Number(text(values.get('f') ?? '0'));
  const raw = values.get('p') ?? Buffer.alloc(0);
  const record: {
    seq: number;
    time: number;
    payload: string | Uint8Array;
    targets?: string[];
    exclude?: string;
  } = {
    seq: Number(text(id).slice(2)),
    time: Number(text(values.get('m') ?? '0')),
    payload: flags & BINARY ? new Uint8Array(raw) : raw.toString('utf8'),
  };
  if (flags & TARGETS) record.targets = JSON.parse(text(values.get('t'))) as string[];
  if (flags & EXCLUDE) record.exclude = text(values.get('x'));
  return record;
}

/**
 * The log on Redis: each stream is a Redis Stream (`<prefix>{<stream>}:log`, entry ids `0-<seq>`) with a hash
 * (`<prefix>{<stream>}:meta`: epoch, first, last). A Lua script numbers and writes each append atomically, so
 * every node sharing the Redis sees the same positions; XRANGE serves the records after a position. Commands
 * of one event-loop turn are written together: one script call per stream (of up to 1 000 entries). A flushed key means a new epoch: history lost is
 * detected, never guessed. When Redis is away, calls fail at once with `LOG_FAILED`.
 */
export class RedisStreamLog implements StreamLog {
  readonly name = 'redis';
  readonly durable = true;
  readonly shared = true;
  readonly limits: Readonly<RedisStreamLogLimits>;
  /** Prefix of every key. */
  readonly prefix: string;
  readonly #redis: RedisCommandsLike;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  /**
   * @param redis a connected client; `onClose` (when given) releases it on `close()` — a client the
   *   application passed in is left open.
   */
  constructor(
    redis: RedisCommandsLike,
    options: { prefix?: string; limits?: Partial<RedisStreamLogLimits>; onClose?: () => Promise<void> } = {},
  ) {
    this.#redis = redis;
    this.prefix = options.prefix ?? 'atmosphere:';
    this.limits = Object.freeze({ ...DEFAULT_REDIS_LOG_LIMITS, ...options.limits });
    this.#onClose = options.onClose;
  }

  #keys(stream: string): [string, string] {
    const base = `${this.prefix}{${stream}}`;
    return [`${base}:meta`, `${base}:log`];
  }

  /**
   * Appends of this turn of the event loop, by stream: written together at the end of the turn, one script
   * call per stream (per `MAX_BATCH` entries), instead of one per append.
   */
  #pending = new Map<string, PendingBatch>();
  #scheduled: NodeJS.Immediate | undefined;

  append(stream: string, entries: readonly LogEntry[]): Promise<StreamPosition> {
    if (this.#closed) return Promise.reject(closedError());
    return new Promise<StreamPosition>((resolve, reject) => {
      let batch = this.#pending.get(stream);
      if (batch === undefined || batch.entries.length + entries.length > MAX_BATCH) {
        if (batch !== undefined) this.#write(stream, batch);
        batch = { entries: [], waiters: [] };
        this.#pending.set(stream, batch);
      }
      batch.waiters.push({ offset: batch.entries.length, resolve, reject });
      for (const entry of entries) batch.entries.push(entry);
      this.#scheduled ??= setImmediate(() => this.#flush());
    });
  }

  /** Sends every pending batch (before a read, so that it sees them: one connection keeps commands in order). */
  #flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    if (this.#pending.size === 0) return;
    const pending = this.#pending;
    this.#pending = new Map();
    for (const [stream, batch] of pending) this.#write(stream, batch);
  }

  /** One script call for a batch of one stream; each waiter gets the position of its first entry. */
  #write(stream: string, batch: PendingBatch): void {
    this.#appendNow(stream, batch.entries).then(
      (position) => {
        for (const waiter of batch.waiters)
          waiter.resolve({ epoch: position.epoch, seq: position.seq + waiter.offset });
      },
      (error: unknown) => {
        for (const waiter of batch.waiters) waiter.reject(error);
      },
    );
  }

  async #appendNow(stream: string, entries: readonly LogEntry[]): Promise<StreamPosition> {
    const args: RedisArgument[] = [
      randomUUID(),
      Date.now(),
      this.limits.maxRecordsPerStream,
      this.limits.streamTtlMs,
      entries.length,
    ];
    for (const entry of entries) {
      const binary = typeof entry.payload !== 'string';
      const flags =
        (binary ? BINARY : 0) |
        (entry.targets !== undefined ? TARGETS : 0) |
        (entry.exclude !== undefined ? EXCLUDE : 0);
      const payload = entry.payload;
      args.push(
        typeof payload === 'string'
          ? payload
          : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
        flags,
        entry.targets === undefined ? '' : JSON.stringify(entry.targets),
        entry.exclude ?? '',
      );
    }
    try {
      const [epoch, seq] = (await APPEND.run(this.#redis, this.#keys(stream), args)) as [string, number];
      return { epoch: String(epoch), seq: Number(seq) };
    } catch (error) {
      throw failed('append to', stream, error);
    }
  }

  async read(stream: string, after: number, options?: LogReadOptions): Promise<LogRead | undefined> {
    if (this.#closed) throw closedError();
    this.#flush();
    const limit = Math.max(1, Math.min(options?.limit ?? this.limits.readLimit, this.limits.readLimit));
    let reply: unknown;
    try {
      reply = await READ.run(this.#redis, this.#keys(stream), [Math.max(0, Math.floor(after)), limit], true);
    } catch (error) {
      throw failed('read', stream, error);
    }
    if (reply === null || reply === undefined) return undefined;
    const [epoch, first, last, entries] = reply as [Buffer, Buffer, Buffer, unknown[]];
    return {
      epoch: text(epoch),
      first: Number(text(first)),
      last: Number(text(last)),
      records: entries.map(toRecord),
    };
  }

  async state(stream: string): Promise<StreamState | undefined> {
    if (this.#closed) throw closedError();
    this.#flush();
    let values: (string | null)[];
    try {
      values = await this.#redis.hmget(this.#keys(stream)[0], 'epoch', 'first', 'last');
    } catch (error) {
      throw failed('read the state of', stream, error);
    }
    const [epoch, first, last] = values;
    if (epoch === null || epoch === undefined) return undefined;
    return { epoch, first: Number(first ?? 1), last: Number(last ?? 0) };
  }

  async trim(stream: string, before: number): Promise<void> {
    if (this.#closed) throw closedError();
    this.#flush();
    try {
      await TRIM.run(this.#redis, this.#keys(stream), [Math.floor(before)]);
    } catch (error) {
      throw failed('trim', stream, error);
    }
  }

  async delete(stream: string): Promise<void> {
    if (this.#closed) throw closedError();
    this.#flush();
    try {
      await this.#redis.del(...this.#keys(stream));
    } catch (error) {
      throw failed('delete', stream, error);
    }
  }

  /** Closes the connection when this store opened it. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#flush();
    this.#closed = true;
    await this.#onClose?.();
  }
}
