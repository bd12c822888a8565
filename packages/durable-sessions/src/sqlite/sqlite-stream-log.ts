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
  PRIMARY KEY (stream, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS atmosphere_records_time ON atmosphere_records (time);
`;

interface StreamRow {
  epoch: string;
  first: number;
  last: number;
}

interface RecordRow {
  seq: number;
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

/** Rows of one multi-row INSERT, largest first: a batch is written in as few statements as these allow. */
const INSERT_ROWS = [64, 8, 1] as const;
const RECORD_COLUMNS = 7;

function sameIds(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function closedError(name: string): AtmosphereError {
  return new AtmosphereError('CLOSED', `The ${name} stream log is closed.`);
}

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
    /** One INSERT per size of `INSERT_ROWS`, with its argument array (filled in place). */
    inserts: { rows: number; statement: SqliteStatementLike; args: unknown[] }[];
    read: SqliteStatementLike;
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
    this.#statements = {
      stream: database.prepare('SELECT epoch, first, last FROM atmosphere_streams WHERE name = ?'),
      createStream: database.prepare(
        'INSERT INTO atmosphere_streams (name, epoch, first, last, updated) VALUES (?, ?, 1, 0, ?)',
      ),
      updateStream: database.prepare(
        'UPDATE atmosphere_streams SET first = ?, last = ?, updated = ? WHERE name = ?',
      ),
      setFirst: database.prepare('UPDATE atmosphere_streams SET first = ? WHERE name = ?'),
      inserts: INSERT_ROWS.map((rows) => ({
        rows,
        statement: database.prepare(
          `INSERT INTO atmosphere_records (stream, seq, time, payload, binary, targets, exclude) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?)').join(', ')}`,
        ),
        args: new Array<unknown>(rows * RECORD_COLUMNS),
      })),
      read: database.prepare(
        'SELECT seq, time, payload, binary, targets, exclude FROM atmosphere_records WHERE stream = ? AND seq > ? ORDER BY seq LIMIT ?',
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
    const rows = this.#statements.read.all(stream, Math.max(0, after), limit) as RecordRow[];
    return { epoch: row.epoch, first: row.first, last: row.last, records: rows.map(toRecord) };
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
      const head = this.#database.prepare(
        'SELECT MIN(seq) AS first FROM atmosphere_records WHERE stream = ?',
      );
      for (const { stream } of touched) {
        const row = this.#statements.stream.get(stream) as StreamRow | undefined;
        if (row === undefined) continue;
        const first = (head.get(stream) as { first: number | null }).first ?? row.last + 1;
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

  /** Inside the transaction: numbers and inserts each append's entries, stream by stream state. */
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
      // As few statements as the sizes allow (a multi-row INSERT binds a chunk in one call).
      let done = 0;
      for (const insert of statements.inserts) {
        const { rows, statement, args } = insert;
        while (entries.length - done >= rows) {
          for (let row = 0; row < rows; row++)
            this.#bindRecord(args, row * RECORD_COLUMNS, stream, ++state.last, now, entries[done + row]!);
          statement.run(args);
          done += rows;
        }
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

  /** The targets of the last record bound, and their JSON: a burst to one client binds the same ones. */
  #lastTargets: readonly string[] | undefined;
  #lastTargetsJson = '';

  /** Writes one record's columns into `args` from `at`. */
  #bindRecord(args: unknown[], at: number, stream: string, seq: number, now: number, entry: LogEntry): void {
    const payload = entry.payload;
    const binary = typeof payload !== 'string';
    args[at] = stream;
    args[at + 1] = seq;
    args[at + 2] = now;
    args[at + 3] = binary ? Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength) : payload;
    args[at + 4] = binary ? 1 : 0;
    args[at + 5] = entry.targets === undefined ? null : this.#targetsJson(entry.targets);
    args[at + 6] = entry.exclude ?? null;
  }

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
