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

  test("an append is one row, however many records it has: reads from inside it, within a limit, after a trim and a sweep get each record's position and fields", async () => {
    const file = newFile(folder, 'rows');
    const log = new SqliteStreamLog(openSqliteFile(Database, file, 'test log', 'the test'), {
      ownsDatabase: true,
      limits: { maxRecordsPerStream: 1_500, maxAgeMs: 1_000, sweepIntervalMs: 0 },
    });
    const text = Array.from({ length: 1_000 }, (_, i) => ({ payload: `t${i + 1}\né`, targets: ['a/1'] }));
    const mixed = [
      { payload: new Uint8Array([0, 10, 255]), targets: ['a/1'], exclude: 'b/2' },
      { payload: 'after bytes\n"x"' },
      { payload: 'to all but b', exclude: 'b/\n2' },
      { payload: new Uint8Array([]), exclude: 'b/\n2' },
      { payload: 'é', targets: ['a/1', 'c/3'] },
    ];
    // One turn: two appends of one stream, one transaction, one row each.
    await Promise.all([log.append('s', text), log.append('s', mixed)]);
    await log.append('s', [{ payload: 'alone' }]);
    await log.append(
      's',
      Array.from({ length: 1_000 }, (_, i) => ({ payload: `u${i + 1}` })),
    );
    const rows = (): { seq: number; count: number }[] => {
      const reader = openSqliteFile(Database, file, 'test log', 'the test');
      try {
        return reader
          .prepare('SELECT seq, count FROM atmosphere_records WHERE stream = ? ORDER BY seq')
          .all('s') as { seq: number; count: number }[];
      } finally {
        reader.close();
      }
    };
    // 2 006 records in four rows, trimmed to the newest 1 500: the first row stays, its records before 507 are not read.
    expect(rows()).toEqual([
      { seq: 1_000, count: 1_000 },
      { seq: 1_005, count: 5 },
      { seq: 1_006, count: 1 },
      { seq: 2_006, count: 1_000 },
    ]);
    expect(log.state('s')).toMatchObject({ first: 507, last: 2_006 });
    const some = log.read('s', 600, { limit: 3 });
    expect(some?.records.map((r) => [r.seq, r.payload, r.targets])).toEqual([
      [601, 't601\né', ['a/1']],
      [602, 't602\né', ['a/1']],
      [603, 't603\né', ['a/1']],
    ]);
    const across = log.read('s', 999, { limit: 8 });
    expect(across?.records.map((r) => r.seq)).toEqual([
      1_000, 1_001, 1_002, 1_003, 1_004, 1_005, 1_006, 1_007,
    ]);
    const [last, bytes, afterBytes, toAll, empty, accent, alone, next] = across!.records;
    expect(last).toMatchObject({ payload: 't1000\né', targets: ['a/1'] });
    expect(bytes?.payload).toBeInstanceOf(Uint8Array);
    expect([...(bytes?.payload as Uint8Array)]).toEqual([0, 10, 255]);
    expect(bytes).toMatchObject({ targets: ['a/1'], exclude: 'b/2' });
    expect(afterBytes).toEqual({ seq: 1_002, time: afterBytes!.time, payload: 'after bytes\n"x"' });
    expect(toAll).toEqual({ seq: 1_003, time: toAll!.time, payload: 'to all but b', exclude: 'b/\n2' });
    expect(empty?.payload).toBeInstanceOf(Uint8Array);
    expect(empty).toMatchObject({ exclude: 'b/\n2' });
    expect((empty?.payload as Uint8Array).byteLength).toBe(0);
    expect(accent).toEqual({ seq: 1_005, time: accent!.time, payload: 'é', targets: ['a/1', 'c/3'] });
    expect(alone).toEqual({ seq: 1_006, time: alone!.time, payload: 'alone' });
    expect(next?.payload).toBe('u1');
    expect(log.read('s', 0)?.records.map((r) => r.seq)).toEqual(
      Array.from({ length: 1_500 }, (_, i) => 507 + i),
    );
    expect(log.read('s', 2_005)?.records.map((r) => r.payload)).toEqual(['u1000']);
    expect(log.read('s', 2_006)?.records).toEqual([]);
    // Trimming by position keeps the row that holds the new first; a read starts at the first.
    log.trim('s', 1_003);
    expect(rows().map((r) => r.seq)).toEqual([1_005, 1_006, 2_006]);
    expect(log.read('s', 0, { limit: 2 })?.records.map((r) => r.seq)).toEqual([1_003, 1_004]);
    // A sweep that drops nothing leaves the first where trimming put it.
    log.sweep(Date.now());
    expect(log.state('s')).toMatchObject({ first: 1_003, last: 2_006 });
    await log.close();
  });

  test('reads a file written by the earlier layout (one row per record, no count column), appends after it and trims and sweeps across both', async () => {
    const file = newFile(folder, 'earlier');
    // The schema and rows as the earlier version wrote them.
    const earlier = openSqliteFile(Database, file, 'test log', 'the test');
    earlier.exec(`
      CREATE TABLE atmosphere_streams (
        name TEXT PRIMARY KEY,
        epoch TEXT NOT NULL,
        first INTEGER NOT NULL,
        last INTEGER NOT NULL,
        updated INTEGER NOT NULL
      );
      CREATE TABLE atmosphere_records (
        stream TEXT NOT NULL,
        seq INTEGER NOT NULL,
        time INTEGER NOT NULL,
        payload BLOB NOT NULL,
        binary INTEGER NOT NULL,
        targets TEXT,
        exclude TEXT,
        PRIMARY KEY (stream, seq)
      ) WITHOUT ROWID;
      CREATE INDEX atmosphere_records_time ON atmosphere_records (time);
    `);
    const old = Date.now() - 10_000;
    earlier
      .prepare('INSERT INTO atmosphere_streams (name, epoch, first, last, updated) VALUES (?, ?, ?, ?, ?)')
      .run('s', 'old-epoch', 2, 4, old);
    const insert = earlier.prepare(
      'INSERT INTO atmosphere_records (stream, seq, time, payload, binary, targets, exclude) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    insert.run('s', 2, old, 'plain', 0, null, null);
    insert.run('s', 3, old, Buffer.from([0, 10, 255]), 1, '["a","b"]', 'sender/1');
    insert.run('s', 4, old + 1, 'addressed', 0, '["c"]', null);
    earlier.close();

    const log = new SqliteStreamLog(openSqliteFile(Database, file, 'test log', 'the test'), {
      ownsDatabase: true,
      limits: { maxAgeMs: 5_000, sweepIntervalMs: 0 },
    });
    const next = await log.append('s', [{ payload: 'new', targets: ['c'] }, { payload: 'newer' }]);
    expect(next).toEqual({ epoch: 'old-epoch', seq: 5 });
    const read = log.read('s', 0);
    expect(read).toMatchObject({ epoch: 'old-epoch', first: 2, last: 6 });
    const [plain, binary, addressed, latest, newest] = read!.records;
    expect(plain).toEqual({ seq: 2, time: old, payload: 'plain' });
    expect(binary).toMatchObject({ seq: 3, targets: ['a', 'b'], exclude: 'sender/1' });
    expect([...(binary!.payload as Uint8Array)]).toEqual([0, 10, 255]);
    expect(addressed).toEqual({ seq: 4, time: old + 1, payload: 'addressed', targets: ['c'] });
    expect(latest).toMatchObject({ seq: 5, payload: 'new', targets: ['c'] });
    expect(newest).toMatchObject({ seq: 6, payload: 'newer' });
    expect(log.read('s', 3, { limit: 2 })?.records.map((r) => r.seq)).toEqual([4, 5]);
    log.trim('s', 3);
    expect(log.read('s', 0)?.records.map((r) => r.seq)).toEqual([3, 4, 5, 6]);
    // The earlier rows are past maxAgeMs, the new row is not.
    log.sweep(Date.now());
    expect(log.state('s')).toMatchObject({ first: 5, last: 6 });
    expect(log.read('s', 0)?.records.map((r) => r.payload)).toEqual(['new', 'newer']);
    await log.close();
    // Opened again: the column is there, nothing is added twice.
    const again = open(file);
    expect(again.read('s', 4)?.records.map((r) => r.payload)).toEqual(['new', 'newer']);
    await again.close();
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
