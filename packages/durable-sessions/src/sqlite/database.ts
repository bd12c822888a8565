import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { AtmosphereError } from '@atmosphere/runtime';

/** What a prepared statement of better-sqlite3 offers, as the stores use it. */
export interface SqliteStatementLike {
  run(...parameters: unknown[]): { changes: number };
  get(...parameters: unknown[]): unknown;
  all(...parameters: unknown[]): unknown[];
}

/**
 * The part of a better-sqlite3 `Database` the stores use. Structural, so that a database opened by the
 * application (another copy or major version of better-sqlite3) fits.
 */
export interface SqliteDatabaseLike {
  readonly name: string;
  readonly open: boolean;
  prepare(source: string): SqliteStatementLike;
  exec(source: string): unknown;
  pragma(source: string, options?: { simple?: boolean }): unknown;
  transaction<F extends (...parameters: never[]) => unknown>(fn: F): F;
  close(): unknown;
}

/** The better-sqlite3 `Database` class (or one shaped like it). */
export type SqliteConstructor = new (
  filename: string,
  options?: { readonly?: boolean; fileMustExist?: boolean; timeout?: number },
) => SqliteDatabaseLike;

/**
 * Loads better-sqlite3, a peer dependency needed only by the SQLite stores. Throws `PROVIDER_UNAVAILABLE`
 * saying what to install when it is missing (or was installed without its native build).
 */
export async function loadBetterSqlite3(): Promise<SqliteConstructor> {
  try {
    const module = (await import('better-sqlite3')) as unknown as { default: SqliteConstructor };
    return module.default;
  } catch (error) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'The SQLite stores of @atmosphere/durable-sessions need better-sqlite3, which is not installed or did not build: ' +
        'add it (npm install better-sqlite3; with pnpm, list it in onlyBuiltDependencies so its native module builds), ' +
        `or choose another store. Cause: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/** Milliseconds a statement waits for a lock another connection holds on the file before failing. */
const BUSY_TIMEOUT_MS = 5_000;

/**
 * Opens (creating it and its folder when needed) the SQLite file at `path` in WAL mode and checks that it is
 * a readable, writable SQLite database. `purpose` names the store in error messages. Throws an
 * `AtmosphereError` (`PROVIDER_FAILED`) naming the file, what is wrong with it and the fix — never a bare
 * SQLite error — so that a corrupt or unwritable file stops startup with a clear message.
 */
export function openSqliteFile(
  Database: SqliteConstructor,
  path: string,
  purpose: string,
  source: string,
): SqliteDatabaseLike {
  const file = path === ':memory:' ? path : resolve(path);
  const fix =
    `Point ${source} at a file this process can write (its folder is created when missing), ` +
    'or move the damaged file away to start with empty history.';
  let database: SqliteDatabaseLike | undefined;
  try {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    database = new Database(file, { timeout: BUSY_TIMEOUT_MS });
    // journal_mode reads the file header: a file that is not SQLite fails here.
    const mode = String(database.pragma('journal_mode = WAL', { simple: true })).toLowerCase();
    if (file !== ':memory:' && mode !== 'wal')
      throw new Error(`the file refused WAL journaling (journal_mode is ${mode})`);
    database.pragma('synchronous = NORMAL');
    const check = String(database.pragma('quick_check', { simple: true }));
    if (check !== 'ok') throw new Error(`quick_check reports: ${check}`);
    // A write proves the file (and its -wal/-shm companions) can be written.
    database.exec('CREATE TABLE IF NOT EXISTS atmosphere_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)');
    database.prepare("INSERT OR IGNORE INTO atmosphere_meta (key, value) VALUES ('schema', '1')").run();
    return database;
  } catch (error) {
    try {
      database?.close();
    } catch {
      // Closing a database that failed to open is best effort.
    }
    throw new AtmosphereError(
      'PROVIDER_FAILED',
      `The ${purpose} could not open the SQLite file ${file} (from ${source}): ${(error as Error).message}. ${fix}`,
      { cause: error },
    );
  }
}
