import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtmosphereError } from '@atmosphere/runtime';
import { streamLogContract } from '@atmosphere/runtime/testing/stream-log-contract';
import { describe, expect, test } from 'vitest';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { SqliteStreamLog } from '../src/sqlite/sqlite-stream-log.ts';
import { newFile, tempFolder } from './helpers.ts';

const folder = tempFolder('sqlite-log');
const Database = await loadBetterSqlite3();
const files = new WeakMap<SqliteStreamLog, string>();

function open(file: string): SqliteStreamLog {
  const log = new SqliteStreamLog(openSqliteFile(Database, file, 'test log', 'the test'), {
    ownsDatabase: true,
  });
  files.set(log, file);
  return log;
}

streamLogContract('sqlite', {
  create: () => open(newFile(folder, 'log')),
  async reopen(log) {
    await log.close();
    return open(files.get(log as SqliteStreamLog)!);
  },
  async loseHistory(log) {
    const file = files.get(log as SqliteStreamLog)!;
    await log.close();
    renameSync(file, `${file}.lost`);
    for (const suffix of ['-wal', '-shm']) {
      try {
        renameSync(file + suffix, `${file}.lost${suffix}`);
      } catch {
        // WAL companions exist only while a connection is open.
      }
    }
    return open(file);
  },
  failWrites(log) {
    // Another connection makes every record insert fail inside the store's transaction, as a disk error would.
    const other = openSqliteFile(Database, files.get(log as SqliteStreamLog)!, 'test log', 'the test');
    other.exec(
      "CREATE TRIGGER refuse_writes BEFORE INSERT ON atmosphere_records BEGIN SELECT RAISE(ABORT, 'disk I/O refused by the test'); END",
    );
    return () => {
      other.exec('DROP TRIGGER refuse_writes');
      other.close();
    };
  },
});

describe('sqlite stream log', () => {
  test('appends of one event-loop turn commit in one transaction, in call order', async () => {
    const log = open(newFile(folder, 'batch'));
    const positions = await Promise.all(
      Array.from({ length: 100 }, (_, i) => log.append(i % 2 ? 'odd' : 'even', [{ payload: `m${i}` }])),
    );
    expect(positions.filter((_, i) => i % 2 === 0).map((p) => p.seq)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(log.read('odd', 0)?.records.map((r) => r.payload)).toEqual(
      Array.from({ length: 50 }, (_, i) => `m${2 * i + 1}`),
    );
    await log.close();
  });

  test('a read sees appends still waiting for their transaction', async () => {
    const log = open(newFile(folder, 'pending'));
    const pending = log.append('s', [{ payload: 'not yet committed' }]);
    expect(log.read('s', 0)?.records.map((r) => r.payload)).toEqual(['not yet committed']);
    expect(await pending).toMatchObject({ seq: 1 });
    await log.close();
  });

  test('keeps at most maxRecordsPerStream, dropping the oldest without renumbering', async () => {
    const file = newFile(folder, 'cap');
    const log = new SqliteStreamLog(openSqliteFile(Database, file, 'test log', 'the test'), {
      ownsDatabase: true,
      limits: { maxRecordsPerStream: 5 },
    });
    await log.append(
      's',
      Array.from({ length: 12 }, (_, i) => ({ payload: `m${i + 1}` })),
    );
    expect(log.state('s')).toMatchObject({ first: 8, last: 12 });
    expect(log.read('s', 0)?.records.map((r) => r.seq)).toEqual([8, 9, 10, 11, 12]);
    await log.close();
  });

  test('sweep drops records past maxAgeMs and forgets idle streams (a new epoch follows)', async () => {
    const log = new SqliteStreamLog(
      openSqliteFile(Database, newFile(folder, 'age'), 'test log', 'the test'),
      {
        ownsDatabase: true,
        limits: { maxAgeMs: 1_000, sweepIntervalMs: 0 },
      },
    );
    const old = await log.append('s', [{ payload: 'a' }, { payload: 'b' }]);
    log.sweep(Date.now() + 500);
    expect(log.state('s')).toEqual({ epoch: old.epoch, first: 1, last: 2 });
    log.sweep(Date.now() + 5_000);
    expect(log.state('s')).toBeUndefined();
    const next = await log.append('s', [{ payload: 'c' }]);
    expect(next.seq).toBe(1);
    expect(next.epoch).not.toBe(old.epoch);
    await log.close();
  });

  test('a file that is not SQLite fails with an error naming the file and the fix', () => {
    const file = join(folder, 'corrupt.sqlite');
    writeFileSync(
      file,
      'this is not a database, it is a text file that happens to be long enough '.repeat(20),
    );
    let failure: unknown;
    try {
      openSqliteFile(Database, file, 'durable stream log', 'ATMOSPHERE_DURABLE_SQLITE');
    } catch (error) {
      failure = error;
    }
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('PROVIDER_FAILED');
    expect((failure as Error).message).toContain(file);
    expect((failure as Error).message).toContain('ATMOSPHERE_DURABLE_SQLITE');
    expect((failure as Error).message).toMatch(/not a database/);
    expect((failure as Error).message).toMatch(/move the damaged file away/);
  });

  test('a path that cannot be written fails with an error naming the file', () => {
    const blocker = join(folder, 'a-file');
    writeFileSync(blocker, 'x');
    const file = join(blocker, 'log.sqlite');
    expect(() => openSqliteFile(Database, file, 'durable stream log', 'sqliteStreamLog({ path })')).toThrow(
      new RegExp(`${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*sqliteStreamLog\\(\\{ path \\}\\)`),
    );
  });
});
