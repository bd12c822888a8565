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
import type { SqliteDatabaseLike, SqliteStatementLike } from './database.ts';

/** Limits of the SQLite log. Trimming never renumbers; a reader behind the oldest record sees the gap. */
export interface SqliteStreamLogLimits {
  /** Records kept per stream; past it the oldest go. Default 10 000. */
  maxRecordsPerStream: number;
  /**
   * A record older than this is dropped, and a stream with no append for this long is forgotten (a subscriber
   * that comes back to it is told its history was lost). Default 86 400 000 ms (24 h, the session TTL).
   */
  maxAgeMs: number;
  /** Most records one read returns. Default 10 000. */
  readLimit: number;
  /** How often `sweep()` actually sweeps (the runtime calls it about once a second). Default 60 000 ms. */
  sweepIntervalMs: number;
}

/** Defaults of {@link SqliteStreamLogLimits}. */
export const DEFAULT_SQLITE_LOG_LIMITS: Readonly<SqliteStreamLogLimits> = Object.freeze({
  maxRecordsPerStream: 10_000,
  maxAgeMs: 86_400_000,
  readLimit: 10_000,
  sweepIntervalMs: 60_000,
});

// A row of `atmosphere_records` holds the records of one append: `count` of them, the last at `seq`, all appended
// at `time`. A row of one record keeps it in its columns (payload, binary, targets, exclude): the layout of
// earlier versions, whose rows all read as rows of one. A row of several keeps them in `payload`, one after the
// other, each `<flags><length>\n[<targets JSON>\n][<exclude JSON>\n]<payload>` (flags one digit: 1 binary
// payload, 2 targets, 4 exclude, 8 the targets and exclude of the record before; JSON has no raw newline):
// text when every payload is text (lengths in UTF-16 code units), bytes otherwise (`binary` 1, lengths in bytes,
// a text payload in UTF-8). One row per append instead of one per record is what makes a burst cheap: a turn of
// 2 000 tokens is two rows (one append takes at most 1 000 entries), not 2 000 inserts into the primary key and
// the time index. Trimming deletes the rows whose records are all before the new first; a read skips the
// records before `first` in the row it starts in.
const SCHEMA = `
CREATE TABLE IF NOT EXISTS atmosphere_streams (
  name TEXT PRIMARY KEY,
  epoch TEXT NOT NULL,
  first INTEGER NOT NULL,
  last INTEGER NOT NULL,
  updated INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS atmosphere_records (
  stream TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  payload BLOB NOT NULL,
  binary INTEGER NOT NULL,
  targets TEXT,
  exclude TEXT,
  count INTEGER NOT NULL DEFAULT 1,
  PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS atmosphere_records_time ON atmosphere_records (time);
`;

/** A file written by an earlier version has no `count` column: its rows are one record each, as the default says. */
const ADD_COUNT = 'ALTER TABLE atmosphere_records ADD COLUMN count INTEGER NOT NULL DEFAULT 1';

interface StreamRow {
  epoch: string;
  first: number;
  last: number;
}

interface RecordRow {
  seq: number;
  count: number;
  time: number;
  payload: string | Uint8Array;
  binary: number;
  targets: string | null;
  exclude: string | null;
}

interface PendingAppend {
  readonly stream: string;
  readonly entries: readonly LogEntry[];
  resolve(position: StreamPosition): void;
  reject(error: unknown): void;
}

/** Flags of a record in a row of several (one digit). */
const BINARY = 1;
const TARGETS = 2;
const EXCLUDE = 4;
const SAME_HEAD = 8;
const NEWLINE = 0x0a;
const DIGIT_0 = 0x30;

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** True when two entries have the same targets and exclude (the head of a record in a row of several). */
function sameHead(a: LogEntry, b: LogEntry): boolean {
  if (a.exclude !== b.exclude) return false;
  const x = a.targets;
  const y = b.targets;
  if (x === y) return true;
  return x !== undefined && y !== undefined && sameIds(x, y);
}

/** The head lines of a record in a row of several: its targets and exclude as JSON, each ending a line. */
function headLines(entry: LogEntry): string {
  let head = '';
  if (entry.targets !== undefined) head += `${JSON.stringify(entry.targets)}\n`;
  if (entry.exclude !== undefined) head += `${JSON.stringify(entry.exclude)}\n`;
  return head;
}

function headFlags(entry: LogEntry): number {
  return (entry.targets !== undefined ? TARGETS : 0) | (entry.exclude !== undefined ? EXCLUDE : 0);
}

/** The `payload` of a row of several records: text while every payload is text, bytes otherwise. */
function packRecords(entries: readonly LogEntry[]): string | Buffer {
  let text = true;
  for (let i = 0; i < entries.length; i++)
    if (typeof entries[i]!.payload !== 'string') {
      text = false;
      break;
    }
  let previous: LogEntry | undefined;
  if (text) {
    let body = '';
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      const payload = entry.payload as string;
      if (previous !== undefined && sameHead(previous, entry))
        body += `${SAME_HEAD}${payload.length}\n${payload}`;
      else body += `${headFlags(entry)}${payload.length}\n${headLines(entry)}${payload}`;
      previous = entry;
    }
    return body;
  }
  const parts: Buffer[] = [];
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const payload = entry.payload;
    const bytes =
      typeof payload === 'string'
        ? Buffer.from(payload, 'utf8')
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength);
    const binary = typeof payload === 'string' ? 0 : BINARY;
    const head =
      previous !== undefined && sameHead(previous, entry)
        ? `${SAME_HEAD | binary}${bytes.length}\n`
        : `${headFlags(entry) | binary}${bytes.length}\n${headLines(entry)}`;
    parts.push(Buffer.from(head, 'utf8'), bytes);
    previous = entry;
  }
  return Buffer.concat(parts);
}

function closedError(name: string): AtmosphereError {
  return new AtmosphereError('CLOSED', `The ${name} stream log is closed.`);
}

/** A row of one record (the layout of earlier versions too): the record in its columns. */
function toRecord(row: RecordRow): LogRecord {
  let payload: string | Uint8Array;
  if (row.binary === 1) {
    const bytes = row.payload as Uint8Array;
    payload = new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  } else payload = row.payload;
  const record: {
    seq: number;
    time: number;
    payload: string | Uint8Array;
    targets?: string[];
    exclude?: string;
  } = { seq: row.seq, time: row.time, payload };
  if (row.targets !== null) record.targets = JSON.parse(row.targets) as string[];
  if (row.exclude !== null) record.exclude = row.exclude;
  return record;
}

/** A record of a row of several, as read: the targets and exclude of a head are shared by the records that repeat it. */
interface Unpacked {
  seq: number;
  time: number;
  payload: string | Uint8Array;
  targets?: readonly string[];
  exclude?: string;
}

function unpacked(
  seq: number,
  time: number,
  payload: string | Uint8Array,
  targets: readonly string[] | undefined,
  exclude: string | undefined,
): LogRecord {
  const record: Unpacked = { seq, time, payload };
  if (targets !== undefined) record.targets = targets;
  if (exclude !== undefined) record.exclude = exclude;
  return record;
}

function malformed(row: RecordRow): Error {
  return new Error(`the row of records ${row.seq - row.count + 1}-${row.seq} is malformed`);
}

/**
 * The records of `row` from seq `from` on, into `records` until it holds `limit`. A row of several is read
 * record by record (each head is read, the skipped ones' too: a later record may repeat it).
 */
function rowRecords(row: RecordRow, from: number, limit: number, records: LogRecord[]): void {
  if (row.count === 1) {
    if (row.seq >= from) records.push(toRecord(row));
    return;
  }
  const body = row.payload;
  const time = row.time;
  let targets: readonly string[] | undefined;
  let exclude: string | undefined;
  let at = 0;
  if (typeof body === 'string') {
    for (let seq = row.seq - row.count + 1; seq <= row.seq && records.length < limit; seq++) {
      const flags = body.charCodeAt(at) - DIGIT_0;
      const lengthEnd = body.indexOf('\n', at + 1);
      if (lengthEnd < 0 || !(flags >= 0 && flags <= 9)) throw malformed(row);
      let length = 0;
      for (let i = at + 1; i < lengthEnd; i++) length = length * 10 + body.charCodeAt(i) - DIGIT_0;
      at = lengthEnd + 1;
      if ((flags & SAME_HEAD) === 0) {
        targets = undefined;
        exclude = undefined;
        if ((flags & TARGETS) !== 0) {
          const end = body.indexOf('\n', at);
          if (end < 0) throw malformed(row);
          targets = JSON.parse(body.slice(at, end)) as string[];
          at = end + 1;
        }
        if ((flags & EXCLUDE) !== 0) {
          const end = body.indexOf('\n', at);
          if (end < 0) throw malformed(row);
          exclude = JSON.parse(body.slice(at, end)) as string;
          at = end + 1;
        }
      }
      const end = at + length;
      if (!(end <= body.length)) throw malformed(row);
      if (seq >= from) records.push(unpacked(seq, time, body.slice(at, end), targets, exclude));
      at = end;
    }
    return;
  }
  const bytes = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  for (let seq = row.seq - row.count + 1; seq <= row.seq && records.length < limit; seq++) {
    const flags = (bytes[at] ?? -1) - DIGIT_0;
    const lengthEnd = bytes.indexOf(NEWLINE, at + 1);
    if (lengthEnd < 0 || !(flags >= 0 && flags <= 9)) throw malformed(row);
    let length = 0;
    for (let i = at + 1; i < lengthEnd; i++) length = length * 10 + bytes[i]! - DIGIT_0;
    at = lengthEnd + 1;
    if ((flags & SAME_HEAD) === 0) {
      targets = undefined;
      exclude = undefined;
      if ((flags & TARGETS) !== 0) {
        const end = bytes.indexOf(NEWLINE, at);
        if (end < 0) throw malformed(row);
        targets = JSON.parse(bytes.toString('utf8', at, end)) as string[];
        at = end + 1;
      }
      if ((flags & EXCLUDE) !== 0) {
        const end = bytes.indexOf(NEWLINE, at);
        if (end < 0) throw malformed(row);
        exclude = JSON.parse(bytes.toString('utf8', at, end)) as string;
        at = end + 1;
      }
    }
    const end = at + length;
    if (!(end <= bytes.length)) throw malformed(row);
    if (seq >= from) {
      const payload =
        (flags & BINARY) !== 0 ? new Uint8Array(bytes.subarray(at, end)) : bytes.toString('utf8', at, end);
      records.push(unpacked(seq, time, payload, targets, exclude));
    }
    at = end;
  }
}

/** Adds the `count` column to a file written by an earlier version (each of its rows holds one record). */
function addCountColumn(database: SqliteDatabaseLike): void {
  const hasCount = (): boolean =>
    (database.pragma('table_info(atmosphere_records)') as { name: string }[]).some((c) => c.name === 'count');
  if (hasCount()) return;
  try {
    database.exec(ADD_COUNT);
  } catch (error) {
    // Another connection added it first.
    if (!hasCount()) throw error;
  }
}

/**
 * The log in one SQLite file (better-sqlite3, WAL): streams survive a restart of the process with their
 * epochs, records and numbering. Appends made in one turn of the event loop are written in one transaction
 * at its end; each `append` resolves with its position once that transaction has committed (append before
 * send: a message reaches a socket only once it is on disk). Reads and state see every append made before
 * them, committed or pending. One process writes a file at a time.
 */
export class SqliteStreamLog implements StreamLog {
  readonly name = 'sqlite';
  readonly durable = true;
  /** A turn's appends of a stream come in one call: one transaction or script call, one promise. */
  readonly batchAppends = true;
  readonly shared = false;
  readonly limits: Readonly<SqliteStreamLogLimits>;
  /** The file (`:memory:` for an in-memory database). */
  readonly file: string;
  readonly #database: SqliteDatabaseLike;
  readonly #ownsDatabase: boolean;
  readonly #statements: {
    stream: SqliteStatementLike;
    createStream: SqliteStatementLike;
    updateStream: SqliteStatementLike;
    setFirst: SqliteStatementLike;
    insert: SqliteStatementLike;
    read: SqliteStatementLike;
    head: SqliteStatementLike;
    trimRecords: SqliteStatementLike;
    deleteStream: SqliteStatementLike;
    deleteRecords: SqliteStatementLike;
  };
  readonly #writeBatch: (batch: readonly PendingAppend[]) => StreamPosition[];
  #pending: PendingAppend[] = [];
  #batches = 0;
  #scheduled: NodeJS.Immediate | undefined;
  #lastSweep = 0;
  #closed = false;

  /**
   * @param database an open database (see `openSqliteFile`); closed by `close()` only when `ownsDatabase`.
   */
  constructor(
    database: SqliteDatabaseLike,
    options: { limits?: Partial<SqliteStreamLogLimits>; ownsDatabase?: boolean } = {},
  ) {
    this.#database = database;
    this.#ownsDatabase = options.ownsDatabase ?? false;
    this.file = database.name;
    this.limits = Object.freeze({ ...DEFAULT_SQLITE_LOG_LIMITS, ...options.limits });
    database.exec(SCHEMA);
    addCountColumn(database);
    this.#statements = {
      stream: database.prepare('SELECT epoch, first, last FROM atmosphere_streams WHERE name = ?'),
      createStream: database.prepare(
        'INSERT INTO atmosphere_streams (name, epoch, first, last, updated) VALUES (?, ?, 1, 0, ?)',
      ),
      updateStream: database.prepare(
        'UPDATE atmosphere_streams SET first = ?, last = ?, updated = ? WHERE name = ?',
      ),
      setFirst: database.prepare('UPDATE atmosphere_streams SET first = ? WHERE name = ?'),
      // One row per statement: with a row per append, multi-row INSERTs were slower (a turn of 1 000 one-record
      // appends over 100 streams: ≈ 20 µs a record in INSERTs of 64 rows, ≈ 11 µs one row at a time).
      insert: database.prepare(
        'INSERT INTO atmosphere_records (stream, seq, time, payload, binary, targets, exclude, count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // The rows holding records after ?2 up to ?4: up to the first row that ends at or after ?4 (records are
      // numbered without gaps, so that row holds record ?4 when the log does).
      read: database.prepare(
        'SELECT seq, count, time, payload, binary, targets, exclude FROM atmosphere_records WHERE stream = ? AND seq > ? AND seq <= COALESCE((SELECT seq FROM atmosphere_records WHERE stream = ? AND seq >= ? ORDER BY seq LIMIT 1), ?) ORDER BY seq',
      ),
      head: database.prepare(
        'SELECT seq, count FROM atmosphere_records WHERE stream = ? ORDER BY seq LIMIT 1',
      ),
      trimRecords: database.prepare('DELETE FROM atmosphere_records WHERE stream = ? AND seq < ?'),
      deleteStream: database.prepare('DELETE FROM atmosphere_streams WHERE name = ?'),
      deleteRecords: database.prepare('DELETE FROM atmosphere_records WHERE stream = ?'),
    };
    this.#writeBatch = database.transaction((batch: readonly PendingAppend[]) => this.#write(batch));
  }

  /** Transactions of appends written so far: each holds every append of one turn of the event loop. */
  get batches(): number {
    return this.#batches;
  }

  append(stream: string, entries: readonly LogEntry[]): Promise<StreamPosition> {
    if (this.#closed) return Promise.reject(closedError(this.name));
    return new Promise<StreamPosition>((resolve, reject) => {
      this.#pending.push({ stream, entries, resolve, reject });
      this.#scheduled ??= setImmediate(() => this.#flush());
    });
  }

  read(stream: string, after: number, options?: LogReadOptions): LogRead | undefined {
    this.#assertOpen();
    this.#flush();
    const row = this.#statements.stream.get(stream) as StreamRow | undefined;
    if (row === undefined) return undefined;
    const limit = Math.max(1, Math.min(options?.limit ?? this.limits.readLimit, this.limits.readLimit));
    // Records before `first` may still be in the row that holds `first` (trimming deletes whole rows).
    const from = Math.max(0, Math.floor(after), row.first - 1);
    const rows = this.#statements.read.all(stream, from, stream, from + limit, from + limit) as RecordRow[];
    const records: LogRecord[] = [];
    try {
      for (let i = 0; i < rows.length && records.length < limit; i++)
        rowRecords(rows[i]!, from + 1, limit, records);
    } catch (error) {
      throw new AtmosphereError(
        'LOG_FAILED',
        `The SQLite stream log (${this.file}) could not read stream ${stream}: ${(error as Error).message}.`,
        { cause: error },
      );
    }
    return { epoch: row.epoch, first: row.first, last: row.last, records };
  }

  state(stream: string): StreamState | undefined {
    this.#assertOpen();
    this.#flush();
    const row = this.#statements.stream.get(stream) as StreamRow | undefined;
    return row === undefined ? undefined : { epoch: row.epoch, first: row.first, last: row.last };
  }

  trim(stream: string, before: number): void {
    this.#assertOpen();
    this.#flush();
    this.#database.transaction(() => {
      const row = this.#statements.stream.get(stream) as StreamRow | undefined;
      if (row === undefined) return;
      const first = Math.max(row.first, Math.min(before, row.last + 1));
      if (first === row.first) return;
      this.#statements.trimRecords.run(stream, first);
      this.#statements.setFirst.run(first, stream);
    })();
  }

  delete(stream: string): void {
    this.#assertOpen();
    this.#flush();
    this.#database.transaction(() => {
      this.#statements.deleteRecords.run(stream);
      this.#statements.deleteStream.run(stream);
    })();
  }

  /** Drops records older than `maxAgeMs` and forgets streams idle that long, at most every `sweepIntervalMs`. */
  sweep(now: number): void {
    if (this.#closed || now - this.#lastSweep < this.limits.sweepIntervalMs) return;
    this.#lastSweep = now;
    this.#flush();
    const cutoff = now - this.limits.maxAgeMs;
    this.#database.transaction(() => {
      const touched = this.#database
        .prepare('SELECT DISTINCT stream FROM atmosphere_records WHERE time < ?')
        .all(cutoff) as { stream: string }[];
      this.#database.prepare('DELETE FROM atmosphere_records WHERE time < ?').run(cutoff);
      for (const { stream } of touched) {
        const row = this.#statements.stream.get(stream) as StreamRow | undefined;
        if (row === undefined) continue;
        // The oldest row left may hold records trimmed before: the first is never moved back.
        const head = this.#statements.head.get(stream) as { seq: number; count: number } | undefined;
        const first = head === undefined ? row.last + 1 : Math.max(row.first, head.seq - head.count + 1);
        this.#statements.setFirst.run(first, stream);
      }
      this.#database
        .prepare(
          'DELETE FROM atmosphere_streams WHERE updated < ? AND NOT EXISTS (SELECT 1 FROM atmosphere_records r WHERE r.stream = atmosphere_streams.name)',
        )
        .run(cutoff);
    })();
  }

  /** Writes what is pending, then closes the file (when this store opened it). Idempotent. */
  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#flush();
    this.#closed = true;
    if (this.#ownsDatabase && this.#database.open) this.#database.close();
    return Promise.resolve();
  }

  /** Writes every pending append in one transaction and settles their promises. */
  #flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled);
      this.#scheduled = undefined;
    }
    const batch = this.#pending;
    if (batch.length === 0) return;
    this.#pending = [];
    let positions: StreamPosition[];
    try {
      positions = this.#writeBatch(batch);
      this.#batches++;
    } catch (error) {
      const failure = new AtmosphereError(
        'LOG_FAILED',
        `The SQLite stream log (${this.file}) could not write ${batch.length} append(s): ${(error as Error).message}. ` +
          'Check the disk (space, permissions) behind ATMOSPHERE_DURABLE_SQLITE / sqliteStreamLog({ path }).',
        { cause: error },
      );
      for (const pending of batch) pending.reject(failure);
      return;
    }
    for (let i = 0; i < batch.length; i++) batch[i]!.resolve(positions[i]!);
  }

  /** Inside the transaction: numbers each append's entries and inserts them, one row per append. */
  #write(batch: readonly PendingAppend[]): StreamPosition[] {
    const now = Date.now();
    const states = new Map<string, StreamRow>();
    const statements = this.#statements;
    const positions: StreamPosition[] = [];
    for (const { stream, entries } of batch) {
      let state = states.get(stream);
      if (state === undefined) {
        const row = statements.stream.get(stream) as StreamRow | undefined;
        if (row === undefined) {
          state = { epoch: randomUUID(), first: 1, last: 0 };
          statements.createStream.run(stream, state.epoch, now);
        } else state = { epoch: row.epoch, first: row.first, last: row.last };
        states.set(stream, state);
      }
      positions.push({ epoch: state.epoch, seq: state.last + 1 });
      if (entries.length === 0) continue;
      state.last += entries.length;
      if (entries.length === 1) {
        const entry = entries[0]!;
        const payload = entry.payload;
        const binary = typeof payload !== 'string';
        statements.insert.run(
          stream,
          state.last,
          now,
          binary ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : payload,
          binary ? 1 : 0,
          entry.targets === undefined ? null : this.#targetsJson(entry.targets),
          entry.exclude ?? null,
          1,
        );
      } else {
        const body = packRecords(entries);
        statements.insert.run(
          stream,
          state.last,
          now,
          body,
          typeof body === 'string' ? 0 : 1,
          null,
          null,
          entries.length,
        );
      }
    }
    const max = this.limits.maxRecordsPerStream;
    for (const [stream, state] of states) {
      if (state.last - state.first + 1 > max) {
        state.first = state.last - max + 1;
        statements.trimRecords.run(stream, state.first);
      }
      statements.updateStream.run(state.first, state.last, now, stream);
    }
    return positions;
  }

  /** The targets of the last record bound, and their JSON: single appends to one client bind the same ones. */
  #lastTargets: readonly string[] | undefined;
  #lastTargetsJson = '';

  #targetsJson(targets: readonly string[]): string {
    const last = this.#lastTargets;
    if (last === undefined || !sameIds(last, targets)) {
      // A copy: the caller's array may change after this append.
      this.#lastTargets = [...targets];
      this.#lastTargetsJson = JSON.stringify(targets);
    }
    return this.#lastTargetsJson;
  }

  #assertOpen(): void {
    if (this.#closed) throw closedError(this.name);
  }
}
