import { AtmosphereError } from '@atmosphere/runtime';
import {
  isSessionToken,
  mergeSessionData,
  newSessionToken,
  sessionLimits,
  sessionRecord,
  type SessionChanges,
  type SessionData,
  type SessionLimits,
  type SessionRecord,
  type SessionStore,
} from '@atmosphere/runtime/spi';
import type { SqliteDatabaseLike, SqliteStatementLike } from '../sqlite/database.ts';
import { tokenKey } from './token-key.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS atmosphere_sessions (
  key TEXT PRIMARY KEY,
  data TEXT NOT NULL,
  created INTEGER NOT NULL,
  updated INTEGER NOT NULL,
  expires INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS atmosphere_sessions_expires ON atmosphere_sessions (expires);
`;

interface SessionRow {
  data: string;
  created: number;
  updated: number;
  expires: number;
}

/** Options of {@link SqliteSessionStore}. */
export interface SqliteSessionStoreOptions {
  readonly limits?: Partial<SessionLimits>;
  /** Close the database on `close()` (true when the store opened it). Default false. */
  readonly ownsDatabase?: boolean;
  /** The clock, in ms since the Unix epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** How often `sweep()` deletes expired sessions. Default 60 000 ms. */
  readonly sweepIntervalMs?: number;
}

/**
 * Sessions in a SQLite file: they survive a restart of the process. Sessions are stored under the SHA-256 of
 * their token (the file holds no usable token). Calls answer synchronously.
 */
export class SqliteSessionStore implements SessionStore {
  readonly name = 'sqlite';
  readonly durable = true;
  readonly shared = false;
  readonly limits: Readonly<SessionLimits>;
  readonly #database: SqliteDatabaseLike;
  readonly #ownsDatabase: boolean;
  readonly #now: () => number;
  readonly #sweepIntervalMs: number;
  readonly #statements: {
    get: SqliteStatementLike;
    insert: SqliteStatementLike;
    update: SqliteStatementLike;
    touch: SqliteStatementLike;
    delete: SqliteStatementLike;
    sweep: SqliteStatementLike;
  };
  #lastSweep = 0;
  #closed = false;

  constructor(database: SqliteDatabaseLike, options: SqliteSessionStoreOptions = {}) {
    this.#database = database;
    this.#ownsDatabase = options.ownsDatabase ?? false;
    this.#now = options.now ?? Date.now;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.limits = sessionLimits(options.limits);
    database.exec(SCHEMA);
    this.#statements = {
      get: database.prepare('SELECT data, created, updated, expires FROM atmosphere_sessions WHERE key = ?'),
      insert: database.prepare(
        'INSERT INTO atmosphere_sessions (key, data, created, updated, expires) VALUES (?, ?, ?, ?, ?)',
      ),
      update: database.prepare(
        'UPDATE atmosphere_sessions SET data = ?, updated = ?, expires = ? WHERE key = ? AND expires > ?',
      ),
      touch: database.prepare(
        'UPDATE atmosphere_sessions SET updated = ?, expires = ? WHERE key = ? AND expires > ?',
      ),
      delete: database.prepare('DELETE FROM atmosphere_sessions WHERE key = ?'),
      sweep: database.prepare('DELETE FROM atmosphere_sessions WHERE expires <= ?'),
    };
  }

  create(data: Partial<SessionData> = {}): SessionRecord {
    this.#assertOpen();
    const merged = mergeSessionData(undefined, data, this.limits);
    const now = this.#now();
    const record = sessionRecord(newSessionToken(), merged, now, now, this.limits.ttlMs);
    this.#statements.insert.run(tokenKey(record.token), JSON.stringify(merged), now, now, record.expiresAt);
    return record;
  }

  get(token: string): SessionRecord | undefined {
    this.#assertOpen();
    if (!isSessionToken(token)) return undefined;
    const row = this.#statements.get.get(tokenKey(token)) as SessionRow | undefined;
    const now = this.#now();
    if (row === undefined || row.expires <= now) return undefined;
    const data = JSON.parse(row.data) as SessionData;
    return { token, ...data, createdAt: row.created, updatedAt: row.updated, expiresAt: row.expires };
  }

  update(token: string, changes: SessionChanges): SessionRecord | undefined {
    this.#assertOpen();
    if (!isSessionToken(token)) return undefined;
    const key = tokenKey(token);
    return this.#database.transaction(() => {
      const current = this.get(token);
      if (current === undefined) return undefined;
      const merged = mergeSessionData(current, changes, this.limits);
      const now = this.#now();
      const record = sessionRecord(token, merged, current.createdAt, now, this.limits.ttlMs);
      this.#statements.update.run(JSON.stringify(merged), now, record.expiresAt, key, now);
      return record;
    })();
  }

  touch(token: string): boolean {
    this.#assertOpen();
    if (!isSessionToken(token)) return false;
    const now = this.#now();
    return this.#statements.touch.run(now, now + this.limits.ttlMs, tokenKey(token), now).changes > 0;
  }

  delete(token: string): void {
    this.#assertOpen();
    if (isSessionToken(token)) this.#statements.delete.run(tokenKey(token));
  }

  /** Deletes expired sessions, at most every `sweepIntervalMs`. */
  sweep(now: number = this.#now()): void {
    if (this.#closed || now - this.#lastSweep < this.#sweepIntervalMs) return;
    this.#lastSweep = now;
    this.#statements.sweep.run(now);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    if (this.#ownsDatabase && this.#database.open) this.#database.close();
    return Promise.resolve();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The sqlite session store is closed.');
  }
}
