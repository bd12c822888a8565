import { randomUUID } from 'node:crypto';
import { AtmosphereError, type Logger } from '@atmosphere/runtime';
import type {
  AppendOptions,
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
const NEWLINE = 0x0a;
/** The start of an entry in runs (see the layout below). */
const RUNS_MARK = '*\n';

/** An append waiting for the end of its turn: where its entries start in the batch, and its promise. */
interface PendingWaiter {
  readonly offset: number;
  readonly resolve: (position: StreamPosition) => void;
  readonly reject: (error: unknown) => void;
}

interface PendingBatch {
  readonly entries: LogEntry[];
  readonly waiters: PendingWaiter[];
  /** The fencing token of its appends (appends under different tokens are not written together). */
  readonly fence: number | undefined;
}

/** Most entries in one script call (a longer burst of one turn is written in several, in order). */
const MAX_BATCH = 1_000;

// A record's head is `<time>\n<flags>\n[<targets JSON>\n][<exclude JSON>\n]` (JSON has no raw newline), its
// payload text or bytes as they are. An append of n records is one stream entry, id `0-<seq of its last record>`,
// with fields `n` (the count) and `c`: `*\n`, then runs of records that share a head (a burst of AI tokens to one
// client is one run), each `<head bytes>\n<head><records in the run>\n` then every record's `<bytes>\n<payload>`.
// The leading `*` is not a length: a version that knows only the `b` layout (which the Lua of earlier versions also
// returns for `c`) fails the read of such an entry as malformed (LOG_FAILED) rather than misread it. The head once
// per run rather than once per record halves an AI token's bytes, and with them the time to write the call and
// Redis's time to take it. One entry per append instead of one per record is what keeps Redis's own time per
// record small (one XADD for a burst of 1 000 tokens); XRANGE still serves a gap by position (an entry's id is its
// last record's seq). Entries of earlier versions are read as well: fields `n` and `b` (each record whole,
// `<bytes>\n<head><payload>`), one record in field `r`, or the fields p, f, t, x, m.
//
// The stream's epoch in the log's generation (see RESTARTED) and the epoch and seq it goes on from. The first
// call to touch a stream in a generation records where it goes on from: its last seq then, and the generation
// it had before (meta fields g, pg, b; b = -1 for a stream made in this generation, which goes on from nothing).
// Returns the epoch, the epoch it goes on from ('' for none) and that epoch's last seq kept.
const LINEAGE = `
local function lineage(meta, generationKey, epoch, last, fresh)
  local generation = redis.call('GET', generationKey)
  if not generation then return epoch, '', 0 end
  local seen = redis.call('HMGET', meta, 'g', 'pg', 'b')
  if seen[1] ~= generation then
    if fresh then
      seen = {generation, '', '-1'}
    else
      seen = {generation, seen[1] or '', tostring(last)}
    end
    redis.call('HSET', meta, 'g', seen[1], 'pg', seen[2], 'b', seen[3])
  end
  local current = epoch .. '.' .. generation
  if seen[3] == '-1' then return current, '', 0 end
  local before = epoch
  if seen[2] ~= '' then before = epoch .. '.' .. seen[2] end
  return current, before, tonumber(seen[3])
end
`;

// KEYS: meta, log, generation. ARGV: epoch candidate, max records, ttl ms, record count, the records, the fencing
// token ('' for none). The script numbers the records: the position is assigned once, by the log, atomically with the write.
// Trimming removes whole entries (those whose records are all before the new first); a reader skips what is
// before `first`. An append under a token below the stream's fence (the meta's `fence`) is refused whole.
const APPEND = new RedisScript(`${LINEAGE}
if ARGV[6] ~= '' then
  local fence = redis.call('HGET', KEYS[1], 'fence')
  if fence and tonumber(ARGV[6]) < tonumber(fence) then return redis.error_reply('FENCED ' .. fence) end
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
local first, last
local fresh = not epoch
if fresh then
  epoch = ARGV[1]
  first = 1
  last = 0
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch)
else
  first = tonumber(redis.call('HGET', KEYS[1], 'first'))
  last = tonumber(redis.call('HGET', KEYS[1], 'last'))
end
local current = lineage(KEYS[1], KEYS[3], epoch, last, fresh)
local start = last + 1
last = last + tonumber(ARGV[4])
redis.call('XADD', KEYS[2], '0-' .. last, 'n', ARGV[4], 'c', ARGV[5])
local max = tonumber(ARGV[2])
if last - first + 1 > max then
  first = last - max + 1
  redis.call('XTRIM', KEYS[2], 'MINID', '0-' .. first)
end
redis.call('HSET', KEYS[1], 'first', first, 'last', last)
local ttl = tonumber(ARGV[3])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[1], ttl)
  redis.call('PEXPIRE', KEYS[2], ttl)
end
return {current, start}
`);

// KEYS: meta, log, generation. ARGV: after, limit. State and entries in one atomic read, flat: epoch, first, last,
// the epoch and seq it goes on from (see LINEAGE), then per
// entry its kind (-n for an entry of n records in runs, n for one of n whole records, 0 for a one-record entry of
// an earlier version), its id and its records (`c` or `b` as written, or the one record). Entries are taken until they hold `limit` records after `after`
// (XRANGE in pages of 64, so that a large log is never taken whole). Entries written one field per column by
// earlier versions are turned into records here, so the reader knows two layouts.
const READ = new RedisScript(`${LINEAGE}
local m = redis.call('HMGET', KEYS[1], 'epoch', 'first', 'last')
if not m[1] then return false end
local after = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local skip = math.max(after, tonumber(m[2]) - 1)
local current, before, base = lineage(KEYS[1], KEYS[3], m[1], tonumber(m[3]), false)
local out = {current, m[2], m[3], before, base}
local n = 5
local taken = 0
local from = '(0-' .. after
while taken < limit do
  local entries = redis.call('XRANGE', KEYS[2], from, '+', 'COUNT', 64)
  if #entries == 0 then break end
  for _, entry in ipairs(entries) do
    local fields = entry[2]
    local kind, body
    if fields[1] == 'n' then
      kind = fields[3] == 'c' and '-' .. fields[2] or fields[2]
      body = fields[4]
      local last = tonumber(string.sub(entry[1], 3))
      taken = taken + math.max(0, math.min(tonumber(fields[2]), last - skip))
    elseif fields[1] == 'r' then
      kind = '0'
      body = fields[2]
      taken = taken + 1
    else
      local v = {}
      for i = 1, #fields, 2 do v[fields[i]] = fields[i + 1] end
      local flags = tonumber(v.f or '0')
      body = (v.m or '0') .. '\\n' .. flags .. '\\n'
      if bit.band(flags, 2) ~= 0 then body = body .. v.t .. '\\n' end
      if bit.band(flags, 4) ~= 0 then body = body .. cjson.encode(v.x) .. '\\n' end
      body = body .. (v.p or '')
      kind = '0'
      taken = taken + 1
    end
    out[n + 1] = kind
    out[n + 2] = entry[1]
    out[n + 3] = body
    n = n + 3
    if taken >= limit then break end
  end
  from = '(' .. entries[#entries][1]
end
return out
`);

// KEYS: meta, generation. The state of a stream: epoch (with the generation, see RESTARTED), first, last, and the
// epoch and seq it goes on from (see LINEAGE).
const STATE = new RedisScript(`${LINEAGE}
local m = redis.call('HMGET', KEYS[1], 'epoch', 'first', 'last')
if not m[1] then return false end
local current, before, base = lineage(KEYS[1], KEYS[2], m[1], tonumber(m[3] or '0'), false)
return {current, m[2] or '1', m[3] or '0', before, base}
`);

// KEYS: run id, generation. ARGV: the server's appendfsync setting ('' when it cannot be read). Run when a
// connection becomes ready: when the Redis answering is another process than the one that last answered
// (its run_id changed: it restarted) and it may have come back without writes it had acknowledged (no
// append-only file, or one not fsynced on every write: RDB snapshots, appendfsync everysec or no), the
// generation goes up once — every stream's epoch is then its meta epoch and the generation, so positions the
// log handed out before and may hand out again are never taken for the same. Returns the generation.
const RESTARTED = new RedisScript(`
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
local aof = string.match(redis.call('INFO', 'persistence'), 'aof_enabled:(%d)') == '1'
local known = redis.call('GET', KEYS[1])
if run and known ~= run then
  redis.call('SET', KEYS[1], run)
  if known and not (aof and ARGV[1] == 'always') then redis.call('INCR', KEYS[2]) end
end
return redis.call('GET', KEYS[2]) or '0'
`);

// KEYS: meta. ARGV: token, ttl ms. Raises the stream's fence (never lowers it); a meta that holds only a fence
// (a stream never appended to) expires like a stream.
const FENCE = new RedisScript(`
local fence = redis.call('HGET', KEYS[1], 'fence')
if not fence or tonumber(fence) < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 'fence', ARGV[1]) end
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
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

/** The epoch and seq a stream goes on from, as LINEAGE returns them ('' for none). */
function continuesOf(epoch: unknown, seq: unknown): StreamPosition | undefined {
  const before = epoch === undefined || epoch === null ? '' : text(epoch);
  return before === '' ? undefined : { epoch: before, seq: Number(text(seq)) };
}

/** A record's head (everything before its payload) as read: `at` is where the head ends. */
interface RecordHead {
  readonly time: number;
  readonly flags: number;
  readonly targets: string[] | undefined;
  readonly exclude: string | undefined;
  readonly at: number;
}

/** Reads the head that starts at `start` in `raw` (and ends before `end`). */
function readHead(seq: number, raw: Buffer, start: number, end: number): RecordHead {
  const timeEnd = raw.indexOf(NEWLINE, start);
  const flagsEnd = timeEnd < 0 || timeEnd >= end ? -1 : raw.indexOf(NEWLINE, timeEnd + 1);
  if (timeEnd < 0 || flagsEnd < 0 || flagsEnd >= end) throw new Error(`record ${seq} is malformed`);
  const flags = Number(raw.toString('latin1', timeEnd + 1, flagsEnd));
  let at = flagsEnd + 1;
  let targets: string[] | undefined;
  let exclude: string | undefined;
  if (flags & TARGETS) {
    const fieldEnd = raw.indexOf(NEWLINE, at);
    targets = JSON.parse(raw.toString('utf8', at, fieldEnd)) as string[];
    at = fieldEnd + 1;
  }
  if (flags & EXCLUDE) {
    const fieldEnd = raw.indexOf(NEWLINE, at);
    exclude = JSON.parse(raw.toString('utf8', at, fieldEnd)) as string;
    at = fieldEnd + 1;
  }
  return { time: Number(raw.toString('latin1', start, timeEnd)), flags, targets, exclude, at };
}

/** The record of position `seq` with head `head`, its payload `raw` from `start` to `end`. */
function recordOf(seq: number, head: RecordHead, raw: Buffer, start: number, end: number): LogRecord {
  const record: {
    seq: number;
    time: number;
    payload: string | Uint8Array;
    targets?: string[];
    exclude?: string;
  } = {
    seq,
    time: head.time,
    payload:
      head.flags & BINARY ? new Uint8Array(raw.subarray(start, end)) : raw.toString('utf8', start, end),
  };
  if (head.targets !== undefined) record.targets = head.targets;
  if (head.exclude !== undefined) record.exclude = head.exclude;
  return record;
}

/** The whole record (head and payload) of position `seq`: `raw` (a Buffer of READ's reply) from `start` to `end`. */
function toRecord(seq: number, raw: Buffer, start = 0, end = raw.length): LogRecord {
  const head = readHead(seq, raw, start, end);
  return recordOf(seq, head, raw, head.at, end);
}

/** The number written at `at` in `body` and ended by a newline, and where it ends; throws when there is none. */
function numberAt(body: Buffer, at: number, last: number): [value: number, end: number] {
  const end = body.indexOf(NEWLINE, at);
  const value = end < 0 ? NaN : Number(body.toString('latin1', at, end));
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`entry ${last} is malformed`);
  return [value, end + 1];
}

/**
 * The records of one entry of READ's reply, those after `after` and from `first` on, into `records` (at most
 * `limit` in all): an entry of -`kind` records in runs that share a head, of `kind` whole records
 * (`<bytes>\n<record>` each, the last at the entry's seq), or (kind 0) one record of an earlier version.
 */
function entryRecords(
  kind: number,
  id: Buffer,
  body: Buffer,
  bounds: { after: number; first: number; limit: number },
  records: LogRecord[],
): void {
  const last = Number(id.toString('latin1', 2));
  if (kind < 0) {
    runRecords(-kind, last, body, bounds, records);
    return;
  }
  if (kind === 0) {
    if (last > bounds.after && last >= bounds.first && records.length < bounds.limit)
      records.push(toRecord(last, body));
    return;
  }
  let at = 0;
  for (let seq = last - kind + 1; seq <= last && records.length < bounds.limit; seq++) {
    const [bytes, start] = numberAt(body, at, last);
    const end = start + bytes;
    if (!(end <= body.length)) throw new Error(`entry ${last} is malformed`);
    if (seq > bounds.after && seq >= bounds.first) records.push(toRecord(seq, body, start, end));
    at = end;
  }
}

/** The records of an entry of `count` records in runs (see the layout above), as {@link entryRecords}. */
function runRecords(
  count: number,
  last: number,
  body: Buffer,
  bounds: { after: number; first: number; limit: number },
  records: LogRecord[],
): void {
  if (body.toString('latin1', 0, RUNS_MARK.length) !== RUNS_MARK)
    throw new Error(`entry ${last} is malformed`);
  let seq = last - count + 1;
  let at = RUNS_MARK.length;
  while (seq <= last && records.length < bounds.limit) {
    const [headBytes, headStart] = numberAt(body, at, last);
    const headEnd = headStart + headBytes;
    if (!(headEnd <= body.length)) throw new Error(`entry ${last} is malformed`);
    const [length, first] = numberAt(body, headEnd, last);
    if (length === 0 || seq + length - 1 > last) throw new Error(`entry ${last} is malformed`);
    // The head is read once, and only when a record of the run is wanted.
    let head: RecordHead | undefined;
    at = first;
    for (const end = seq + length; seq < end && records.length < bounds.limit; seq++) {
      const [bytes, start] = numberAt(body, at, last);
      at = start + bytes;
      if (!(at <= body.length)) throw new Error(`entry ${last} is malformed`);
      if (seq <= bounds.after || seq < bounds.first) continue;
      head ??= readHead(seq, body, headStart, headEnd);
      if (head.at !== headEnd) throw new Error(`entry ${last} is malformed`);
      records.push(recordOf(seq, head, body, start, at));
    }
  }
}

/** The head of an entry's record: everything before the payload. */
function recordHead(time: number, entry: LogEntry): string {
  const flags =
    (typeof entry.payload === 'string' ? 0 : BINARY) |
    (entry.targets !== undefined ? TARGETS : 0) |
    (entry.exclude !== undefined ? EXCLUDE : 0);
  let head = `${time}\n${flags}\n`;
  if (entry.targets !== undefined) head += `${JSON.stringify(entry.targets)}\n`;
  if (entry.exclude !== undefined) head += `${JSON.stringify(entry.exclude)}\n`;
  return head;
}

/** Digits of a non-negative integer in decimal. */
function decimalDigits(value: number): number {
  let digits = 1;
  for (let rest = value; rest >= 10; rest = Math.floor(rest / 10)) digits++;
  return digits;
}

/**
 * An append's records in runs that share a head (see the layout above), written in place into one Buffer: a
 * burst's head (time, flags, targets, exclude) is made, measured and written once per run. A string built by
 * concatenation and handed to the client instead costs more to measure and encode to UTF-8 (≈ 1–3 µs per
 * record, twice the rest of the append) than these writes.
 */
function packRecords(time: number, entries: readonly LogEntry[]): Buffer {
  const count = entries.length;
  const sizes = new Array<number>(count);
  // Per run: its first entry's index, its head and the head's bytes.
  const starts: number[] = [];
  const heads: string[] = [];
  const headSizes: number[] = [];
  let headOf: LogEntry | undefined;
  let size = 0;
  for (let i = 0; i < count; i++) {
    const entry = entries[i]!;
    if (headOf === undefined || !sameHead(headOf, entry)) {
      if (headOf !== undefined) size += decimalDigits(i - starts[starts.length - 1]!) + 1;
      const head = recordHead(time, entry);
      const headBytes = Buffer.byteLength(head, 'utf8');
      starts.push(i);
      heads.push(head);
      headSizes.push(headBytes);
      size += decimalDigits(headBytes) + 1 + headBytes;
      headOf = entry;
    }
    const payload = entry.payload;
    const bytes = typeof payload === 'string' ? Buffer.byteLength(payload, 'utf8') : payload.byteLength;
    sizes[i] = bytes;
    size += decimalDigits(bytes) + 1 + bytes;
  }
  if (count > 0) size += decimalDigits(count - starts[starts.length - 1]!) + 1;
  const body = Buffer.allocUnsafe(RUNS_MARK.length + size);
  let at = body.write(RUNS_MARK, 0, 'latin1');
  for (let run = 0; run < starts.length; run++) {
    const from = starts[run]!;
    const to = run + 1 < starts.length ? starts[run + 1]! : count;
    at += body.write(`${headSizes[run]}\n`, at, 'latin1');
    at += body.write(heads[run]!, at, 'utf8');
    at += body.write(`${to - from}\n`, at, 'latin1');
    for (let i = from; i < to; i++) {
      const payload = entries[i]!.payload;
      at += body.write(`${sizes[i]}\n`, at, 'latin1');
      if (typeof payload === 'string') at += body.write(payload, at, 'utf8');
      else {
        body.set(payload, at);
        at += payload.byteLength;
      }
    }
  }
  return body;
}

/** True when two entries' records have the same head (same kind of payload, same targets and exclude). */
function sameHead(a: LogEntry, b: LogEntry): boolean {
  if (typeof a.payload !== typeof b.payload || a.exclude !== b.exclude) return false;
  const x = a.targets;
  const y = b.targets;
  if (x === y) return true;
  if (x === undefined || y === undefined || x.length !== y.length) return false;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
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
  /** A turn's appends of a stream come in one call: one transaction or script call, one promise. */
  readonly batchAppends = true;
  readonly shared = true;
  /** A fence is checked by the append's script, atomically with the write, whichever node fenced it. */
  readonly fencing = true;
  readonly limits: Readonly<RedisStreamLogLimits>;
  /** Prefix of every key. */
  readonly prefix: string;
  readonly #redis: RedisCommandsLike;
  /** The generation of every stream's epoch: raised when Redis came back from a restart that may have lost writes. */
  readonly #generationKey: string;
  /** The run_id of the Redis process that last answered (see RESTARTED). */
  readonly #runIdKey: string;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  /**
   * @param redis a connected client; `onClose` (when given) releases it on `close()` — a client the
   *   application passed in is left open.
   */
  constructor(
    redis: RedisCommandsLike,
    options: {
      prefix?: string;
      limits?: Partial<RedisStreamLogLimits>;
      onClose?: () => Promise<void>;
      /** Where a Redis that refuses the restart check (INFO turned off) is reported. */
      logger?: Logger;
    } = {},
  ) {
    this.#redis = redis;
    this.#logger = options.logger;
    this.prefix = options.prefix ?? 'atmosphere:';
    this.limits = Object.freeze({ ...DEFAULT_REDIS_LOG_LIMITS, ...options.limits });
    this.#onClose = options.onClose;
    this.#generationKey = `${this.prefix}log-generation`;
    this.#runIdKey = `${this.prefix}log-run-id`;
    // Each (re)connection may reach a restarted Redis: checked again before the next call.
    const events = redis as Partial<{ on(event: 'ready', listener: () => void): unknown }>;
    if (typeof events.on === 'function')
      events.on.call(redis, 'ready', () => {
        this.#checked = undefined;
        this.#checkedNow = false;
        // At once, not at the next call: a call made meanwhile (the state a new subscriber starts from) waits
        // for it, so the sooner it is done the less anything waits.
        this.#startCheck();
      });
    this.#startCheck();
  }

  /** Starts the restart check now (a failure is tried again by the next call). */
  #startCheck(): void {
    if (this.#closed || this.#redis.status !== 'ready') return;
    this.#restartChecked()?.catch(() => undefined);
  }

  /**
   * Resolves once this connection checked the Redis it reaches for a restart that lost writes; rejects with
   * `LOG_FAILED` when it cannot (Redis away). The provider waits for it at start, so the first subscribers do
   * not wait for it.
   */
  async ready(): Promise<void> {
    try {
      await this.#restartChecked();
    } catch (error) {
      if (AtmosphereError.isInstance(error)) throw error;
      throw new AtmosphereError(
        'LOG_FAILED',
        `The Redis stream log could not check whether Redis restarted: ${(error as Error).message}. Check that Redis (ATMOSPHERE_REDIS_URL / redisStreamLog({ url })) is up.`,
        { cause: error },
      );
    }
  }

  #keys(stream: string): [string, string, string] {
    const base = `${this.prefix}{${stream}}`;
    return [`${base}:meta`, `${base}:log`, this.#generationKey];
  }

  readonly #logger: Logger | undefined;
  /** Redis refused the restart check once (said once). */
  #refusedCheck = false;

  /** The check of the Redis answering now for a restart that lost writes (see RESTARTED), once started. */
  #checked: Promise<void> | undefined;
  /** That check is done: calls go out at once (in the order they are made, and corked together). */
  #checkedNow = false;

  /**
   * Undefined once the Redis this connection reaches now was checked for a restart that may have lost
   * acknowledged writes (and the generation raised if so); until then, the check to wait for: every call waits
   * for it after each (re)connection, so no position is handed out or read before. A failed check is tried
   * again by the next call.
   */
  #restartChecked(): Promise<void> | undefined {
    if (this.#checkedNow) return undefined;
    if (this.#checked !== undefined) return this.#checked;
    const check = (async () => {
      let appendfsync = '';
      try {
        const reply = await this.#redis.config('GET', 'appendfsync');
        if (Array.isArray(reply) && typeof reply[1] === 'string') appendfsync = reply[1];
      } catch {
        // CONFIG is often turned off on managed Redis: then any restart counts as one that may have lost writes.
      }
      try {
        await RESTARTED.run(this.#redis, [this.#runIdKey, this.#generationKey], [appendfsync]);
      } catch (error) {
        // Redis answered, with a refusal (INFO turned off, as some managed offers do): the log works on without
        // noticing restarts rather than not at all. A connection that failed is tried again (rethrown).
        if ((error as Error | undefined)?.name !== 'ReplyError') throw error;
        if (!this.#refusedCheck) {
          this.#refusedCheck = true;
          this.#logger?.warn(
            `redis stream log: Redis refused the check for restarts (${(error as Error).message}); a restart that lost writes it had acknowledged will not be noticed. Allow INFO in Lua scripts, or use appendfsync always.`,
          );
        }
      }
    })();
    this.#checked = check;
    // Before the reactions of the calls waiting on it: those go on in order, then later calls at once.
    check.then(
      () => {
        if (this.#checked === check) this.#checkedNow = true;
      },
      () => {
        if (this.#checked === check) this.#checked = undefined;
      },
    );
    return check;
  }

  /**
   * Appends of this turn of the event loop, by stream: written together at the end of the turn, one script
   * call per stream (per `MAX_BATCH` entries), instead of one per append.
   */
  #pending = new Map<string, PendingBatch>();
  #scheduled: NodeJS.Immediate | undefined;

  append(stream: string, entries: readonly LogEntry[], options?: AppendOptions): Promise<StreamPosition> {
    if (this.#closed) return Promise.reject(closedError());
    const fence = options?.fence;
    return new Promise<StreamPosition>((resolve, reject) => {
      let batch = this.#pending.get(stream);
      if (batch === undefined || batch.entries.length + entries.length > MAX_BATCH || batch.fence !== fence) {
        if (batch !== undefined) this.#write(stream, batch);
        batch = { entries: [], waiters: [], fence };
        this.#pending.set(stream, batch);
      }
      batch.waiters.push({ offset: batch.entries.length, resolve, reject });
      for (const entry of entries) batch.entries.push(entry);
      if (batch.entries.length >= MAX_BATCH) {
        // Full: written now, so that Redis stores it while the rest of the turn (a long burst) goes on.
        this.#pending.delete(stream);
        this.#write(stream, batch);
        return;
      }
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
    if (pending.size === 1) {
      for (const [stream, batch] of pending) this.#write(stream, batch);
      return;
    }
    // One script call per stream, sent in one write: the connection does not auto-pipeline (see connectRedis).
    const socket = this.#redis.stream;
    socket?.cork();
    try {
      for (const [stream, batch] of pending) this.#write(stream, batch);
    } finally {
      socket?.uncork();
    }
  }

  /** One script call for a batch of one stream; each waiter gets the position of its first entry. */
  #write(stream: string, batch: PendingBatch): void {
    this.#appendNow(stream, batch.entries, batch.fence).then(
      (position) => {
        for (const waiter of batch.waiters)
          waiter.resolve({ epoch: position.epoch, seq: position.seq + waiter.offset });
      },
      (error: unknown) => {
        for (const waiter of batch.waiters) waiter.reject(error);
      },
    );
  }

  async #appendNow(
    stream: string,
    entries: readonly LogEntry[],
    fence: number | undefined,
  ): Promise<StreamPosition> {
    const args: RedisArgument[] = [
      randomUUID(),
      this.limits.maxRecordsPerStream,
      this.limits.streamTtlMs,
      entries.length,
      packRecords(Date.now(), entries),
      fence === undefined ? '' : fence,
    ];
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      const [epoch, seq] = (await APPEND.run(this.#redis, this.#keys(stream), args)) as [string, number];
      return { epoch: String(epoch), seq: Number(seq) };
    } catch (error) {
      const refused = /^FENCED (\d+)/.exec((error as Error | undefined)?.message ?? '');
      if (refused !== null && fence !== undefined)
        throw new AtmosphereError(
          'LOG_FENCED',
          `The Redis stream log refused an append to stream ${stream} under fencing token ${fence}: the stream is fenced at ${refused[1]} (another writer took it over).`,
        );
      throw failed('append to', stream, error);
    }
  }

  async fence(stream: string, token: number): Promise<void> {
    if (this.#closed) throw closedError();
    if (!Number.isSafeInteger(token))
      throw new AtmosphereError('INVALID_OPTION', `A fencing token is an integer; got ${token}.`);
    // After this node's appends issued before it (one connection keeps commands in order).
    this.#flush();
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      await FENCE.run(this.#redis, [this.#keys(stream)[0]], [token, this.limits.streamTtlMs]);
    } catch (error) {
      throw failed('fence', stream, error);
    }
  }

  async read(stream: string, after: number, options?: LogReadOptions): Promise<LogRead | undefined> {
    if (this.#closed) throw closedError();
    this.#flush();
    const limit = Math.max(1, Math.min(options?.limit ?? this.limits.readLimit, this.limits.readLimit));
    let reply: unknown;
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      reply = await READ.run(this.#redis, this.#keys(stream), [Math.max(0, Math.floor(after)), limit], true);
    } catch (error) {
      throw failed('read', stream, error);
    }
    if (reply === null || reply === undefined) return undefined;
    const values = reply as Buffer[];
    const first = Number(text(values[1]));
    const records: LogRecord[] = [];
    const bounds = { after: Math.floor(after), first, limit };
    try {
      for (let i = 5; i + 2 < values.length; i += 3)
        entryRecords(Number(text(values[i])), values[i + 1]!, values[i + 2]!, bounds, records);
    } catch (error) {
      throw failed('read', stream, error);
    }
    const continues = continuesOf(values[3], values[4]);
    return {
      epoch: text(values[0]),
      first,
      last: Number(text(values[2])),
      ...(continues === undefined ? {} : { continues }),
      records,
    };
  }

  async state(stream: string): Promise<StreamState | undefined> {
    if (this.#closed) throw closedError();
    this.#flush();
    let values: unknown;
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      const [meta, , generation] = this.#keys(stream);
      values = await STATE.run(this.#redis, [meta, generation], []);
    } catch (error) {
      throw failed('read the state of', stream, error);
    }
    if (!Array.isArray(values)) return undefined;
    const [epoch, first, last, before, base] = values as unknown[];
    const continues = continuesOf(before, base);
    return {
      epoch: text(epoch),
      first: Number(text(first)),
      last: Number(text(last)),
      ...(continues === undefined ? {} : { continues }),
    };
  }

  async trim(stream: string, before: number): Promise<void> {
    if (this.#closed) throw closedError();
    this.#flush();
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      await TRIM.run(this.#redis, this.#keys(stream).slice(0, 2), [Math.floor(before)]);
    } catch (error) {
      throw failed('trim', stream, error);
    }
  }

  async delete(stream: string): Promise<void> {
    if (this.#closed) throw closedError();
    this.#flush();
    try {
      const checking = this.#restartChecked();
      if (checking !== undefined) await checking;
      await this.#redis.del(...this.#keys(stream).slice(0, 2));
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
