import { AtmosphereError } from '@atmosphere/runtime';
import type { LogEntry, LogRecord } from '@atmosphere/runtime/spi';
import { streamLogContract } from '@atmosphere/runtime/testing/stream-log-contract';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRedis, connectRedis, loadIoredis, type RedisConnectionLike } from '../src/redis/connection.ts';
import { RedisStreamLog } from '../src/redis/redis-stream-log.ts';
import {
  type AttemptCounter,
  countConnectionAttempts,
  eventually,
  startTestRedis,
  type TestRedis,
} from '@atmosphere/runtime/testing';

const Redis = await loadIoredis();

/** A connection of the test's own to `url`. */
function connectTo(url: string, purpose: string): Promise<RedisConnectionLike> {
  return connectRedis(Redis, url, { source: 'the test', purpose, timeoutMs: 5_000 });
}
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

/** Appends once Redis answers again after a restart (a call made before then fails at once). */
async function appendWhenBack(log: RedisStreamLog, stream: string, payload: string) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await log.append(stream, [{ payload }]);
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

/** Runs `work`, which must fail with `LOG_FAILED`; returns the error (a `work` that succeeds fails the test). */
async function logFailure(work: () => Promise<unknown>): Promise<Error> {
  let failure: unknown;
  try {
    await work();
  } catch (error) {
    failure = error;
  }
  expect(AtmosphereError.isInstance(failure) && failure.code).toBe('LOG_FAILED');
  return failure as Error;
}

let prefixCounter = 0;
const prefixes = new WeakMap<RedisStreamLog, string>();

/** Auto-pipelining as the providers set it for the log (off), or as a client of the application may have it. */
async function open(prefix: string, autoPipelining = false): Promise<RedisStreamLog> {
  const connection: RedisConnectionLike = await connectRedis(Redis, redis.url, {
    source: 'the test',
    purpose: 'test log',
    timeoutMs: 5_000,
    autoPipelining,
  });
  const log = new RedisStreamLog(connection, { prefix, onClose: () => closeRedis(connection) });
  prefixes.set(log, prefix);
  return log;
}

for (const autoPipelining of [false, true])
  streamLogContract(autoPipelining ? 'redis, client with auto-pipelining' : 'redis', {
    create: () => open(`test${++prefixCounter}:`, autoPipelining),
    async reopen(log) {
      await log.close();
      return open(prefixes.get(log as RedisStreamLog)!, autoPipelining);
    },
    async loseHistory(log) {
      const prefix = prefixes.get(log as RedisStreamLog)!;
      await log.close();
      // Redis restarted without persistence: every key is gone.
      await redis.stop();
      await redis.start();
      return open(prefix, autoPipelining);
    },
    async failWrites() {
      // A Redis that refuses writes (as without enough replicas), keeping what it holds.
      const admin = await connectTo(redis.url, 'test admin');
      const call = admin as unknown as { call(...args: string[]): Promise<unknown> };
      await call.call('CONFIG', 'SET', 'min-replicas-to-write', '1');
      return async () => {
        await call.call('CONFIG', 'SET', 'min-replicas-to-write', '0');
        await closeRedis(admin);
      };
    },
  });

describe('redis stream log', () => {
  test('an append that fills a script call goes to Redis at once; the rest of the turn waits for its end', async () => {
    const connection = await connectRedis(Redis, redis.url, {
      source: 't',
      purpose: 'test log',
      timeoutMs: 5_000,
      autoPipelining: false,
    });
    const log = new RedisStreamLog(connection, {
      prefix: `full${++prefixCounter}:`,
      onClose: () => closeRedis(connection),
    });
    try {
      await log.append('s', [{ payload: 'the script is loaded' }]);
      let calls = 0;
      const evalsha = connection.evalsha.bind(connection);
      connection.evalsha = (...args) => {
        calls++;
        return evalsha(...args);
      };
      const full = log.append(
        's',
        Array.from({ length: 1_000 }, (_, i) => ({ payload: `f${i + 1}` })),
      );
      // Sent while the turn goes on (a long burst keeps appending): Redis stores it meanwhile.
      expect(calls).toBe(1);
      const rest = log.append('s', [{ payload: 'rest' }]);
      expect(calls).toBe(1);
      expect(await Promise.all([full, rest])).toEqual([
        { epoch: expect.any(String), seq: 2 },
        { epoch: expect.any(String), seq: 1_002 },
      ]);
      expect(calls).toBe(2);
      expect((await log.read('s', 999))?.records.map((r) => r.payload)).toEqual(['f999', 'f1000', 'rest']);
    } finally {
      await log.close();
    }
  });

  test('keeps at most maxRecordsPerStream, exactly, without renumbering', async () => {
    const connection = await connectTo(redis.url, 'test log');
    const log = new RedisStreamLog(connection, {
      prefix: `cap${++prefixCounter}:`,
      limits: { maxRecordsPerStream: 5 },
      onClose: () => closeRedis(connection),
    });
    await log.append(
      's',
      Array.from({ length: 12 }, (_, i) => ({ payload: `m${i + 1}` })),
    );
    expect(await log.state('s')).toMatchObject({ first: 8, last: 12 });
    expect((await log.read('s', 0))?.records.map((r) => r.seq)).toEqual([8, 9, 10, 11, 12]);
    await log.close();
  });

  test("an append is one stream entry, however many records it has: a read from inside it, within a limit and after a trim, gets each record's position", async () => {
    const connection = await connectTo(redis.url, 'test log');
    const prefix = `entry${++prefixCounter}:`;
    const log = new RedisStreamLog(connection, {
      prefix,
      limits: { maxRecordsPerStream: 1_500 },
      onClose: () => closeRedis(connection),
    });
    try {
      const text = Array.from({ length: 1_000 }, (_, i) => ({ payload: `t${i + 1}\né` }));
      const binary = { payload: new Uint8Array([0, 10, 255]), targets: ['a/1'], exclude: 'b/2' };
      await Promise.all([log.append('s', text), log.append('s', [binary, { payload: 'after bytes' }])]);
      await log.append(
        's',
        Array.from({ length: 1_000 }, (_, i) => ({ payload: `u${i + 1}` })),
      );
      const call = connection as unknown as { call(...args: string[]): Promise<unknown> };
      // 2 002 records in three entries (one per script call: one call takes at most 1 000 records), trimmed to
      // the newest 1 500: the first entry stays, its records before 503 are not read.
      expect(await call.call('XLEN', `${prefix}{s}:log`)).toBe(3);
      expect(await log.state('s')).toMatchObject({ first: 503, last: 2_002 });
      const some = await log.read('s', 600, { limit: 3 });
      expect(some?.records.map((r) => [r.seq, r.payload])).toEqual([
        [601, 't601\né'],
        [602, 't602\né'],
        [603, 't603\né'],
      ]);
      const across = await log.read('s', 999, { limit: 4 });
      expect(across?.records.map((r) => r.seq)).toEqual([1_000, 1_001, 1_002, 1_003]);
      expect(across?.records[1]).toMatchObject({ targets: ['a/1'], exclude: 'b/2' });
      expect([...(across?.records[1]?.payload as Uint8Array)]).toEqual([0, 10, 255]);
      expect(across?.records[2]?.payload).toBe('after bytes');
      expect(across?.records[3]?.payload).toBe('u1');
      const all = await log.read('s', 0);
      expect(all?.records.map((r) => r.seq)).toEqual(Array.from({ length: 1_500 }, (_, i) => 503 + i));
    } finally {
      await log.close();
    }
  });

  test('an append whose records change head midway (targets, exclude, bytes) reads back whole from every position and within every limit', async () => {
    const connection = await connectTo(redis.url, 'test log');
    const prefix = `runs${++prefixCounter}:`;
    const log = new RedisStreamLog(connection, { prefix, onClose: () => closeRedis(connection) });
    try {
      const entries: LogEntry[] = [
        { payload: 'a1' },
        { payload: '' },
        { payload: 'b1 é', targets: ['x/1', 'y/2'] },
        { payload: 'b2', targets: ['x/1', 'y/2'] },
        { payload: 'c1', targets: ['x/1'] },
        { payload: new Uint8Array([10, 0, 10]), targets: ['x/1'] },
        { payload: 'd1\n12\n', exclude: 'z/3' },
        { payload: 'a2' },
      ];
      expect(await log.append('s', entries)).toMatchObject({ seq: 1 });
      const call = connection as unknown as { call(...args: string[]): Promise<unknown> };
      expect(await call.call('XLEN', `${prefix}{s}:log`)).toBe(1);
      const shape = (records: readonly LogRecord[] | undefined) =>
        (records ?? []).map(({ seq, payload, targets, exclude }) => ({
          seq,
          payload: typeof payload === 'string' ? payload : [...payload],
          targets,
          exclude,
        }));
      const all = entries.map(({ payload, targets, exclude }, i) => ({
        seq: i + 1,
        payload: typeof payload === 'string' ? payload : [...payload],
        targets,
        exclude,
      }));
      expect(shape((await log.read('s', 0))?.records)).toEqual(all);
      for (let after = 0; after <= entries.length; after++)
        for (let limit = 1; limit <= entries.length; limit++)
          expect(shape((await log.read('s', after, { limit }))?.records)).toEqual(
            all.slice(after, after + limit),
          );
    } finally {
      await log.close();
    }
  });

  test("an entry in runs starts with a mark that a reader of the earlier layout cannot take for a record's length: it fails the read instead of misreading it", async () => {
    const connection = await connectTo(redis.url, 'test log');
    const prefix = `mark${++prefixCounter}:`;
    const log = new RedisStreamLog(connection, { prefix, onClose: () => closeRedis(connection) });
    try {
      await log.append('s', [{ payload: 'alone', targets: ['a/1'] }]);
      await log.append('s', [{ payload: 'one' }, { payload: 'two' }, { payload: 'three', exclude: 'b/2' }]);
      const call = connection as unknown as { call(...args: string[]): Promise<unknown> };
      const entries = (await call.call('XRANGE', `${prefix}{s}:log`, '-', '+')) as [string, string[]][];
      expect(entries).toHaveLength(2);
      for (const [, fields] of entries) {
        expect(fields.slice(0, 3)).toEqual(['n', fields[1], 'c']);
        // The earlier layout (`b`) starts with the first record's length, which its reader parses as a number.
        const body = fields[3]!;
        expect(Number.isNaN(Number(body.slice(0, body.indexOf('\n'))))).toBe(true);
      }
      expect((await log.read('s', 0))?.records.map((r) => r.payload)).toEqual([
        'alone',
        'one',
        'two',
        'three',
      ]);
      // Without the mark, the entry is malformed to this version too.
      const key = `${prefix}{s}:log`;
      await call.call('DEL', key);
      await call.call('XADD', key, entries[0]![0], ...entries[0]![1]);
      await call.call('XADD', key, entries[1]![0], 'n', '3', 'c', entries[1]![1][3]!.slice(2));
      expect((await logFailure(() => log.read('s', 1))).message).toContain('entry 4 is malformed');
    } finally {
      await log.close();
    }
  });

  test('an entry whose records are cut short fails the read with LOG_FAILED, naming the entry', async () => {
    const connection = await connectTo(redis.url, 'test log');
    const prefix = `cut${++prefixCounter}:`;
    const log = new RedisStreamLog(connection, { prefix, onClose: () => closeRedis(connection) });
    try {
      await log.append('s', [{ payload: 'one' }, { payload: 'two' }]);
      const call = connection as unknown as { call(...args: string[]): Promise<unknown> };
      const key = `${prefix}{s}:log`;
      const entry = ((await call.call('XRANGE', key, '-', '+')) as [string, string[]][])[0];
      const fields = entry![1];
      // The second record's length says more bytes than the entry has.
      const body = fields[3]!.replace(/3\ntwo$/, '9\ntwo');
      expect(body).not.toBe(fields[3]);
      await call.call('DEL', key);
      await call.call('XADD', key, '0-2', 'n', '2', 'c', body);
      expect((await logFailure(() => log.read('s', 0))).message).toContain('entry 2 is malformed');
    } finally {
      await log.close();
    }
  });

  test('reads the layouts of earlier versions (a field per column, a record per field, whole records per entry) beside new ones, in one stream', async () => {
    const connection = await connectTo(redis.url, 'test log');
    const prefix = `layout${++prefixCounter}:`;
    const log = new RedisStreamLog(connection, { prefix, onClose: () => closeRedis(connection) });
    try {
      const call = connection as unknown as { call(...args: (string | Buffer)[]): Promise<unknown> };
      const [meta, key] = [`${prefix}{s}:meta`, `${prefix}{s}:log`];
      await call.call('HSET', meta, 'epoch', 'old-epoch', 'first', '1', 'last', '6');
      await call.call('XADD', key, '0-1', 'p', 'plain', 'f', '0', 't', '', 'x', '', 'm', '1700000000001');
      await call.call(
        'XADD',
        key,
        '0-2',
        'p',
        Buffer.from([0, 10, 255]),
        'f',
        '1',
        't',
        '',
        'x',
        '',
        'm',
        '1700000000002',
      );
      await call.call(
        'XADD',
        key,
        '0-3',
        'p',
        'é\nline',
        'f',
        '6',
        't',
        '["a","b"]',
        'x',
        'sender/1',
        'm',
        '1700000000003',
      );
      // One record in one field (the layout before appends were one entry each).
      await call.call('XADD', key, '0-4', 'r', '1700000000004\n2\n["d"]\none field');
      // Whole records, each `<bytes>\n<head><payload>`, in one entry (the layout before runs).
      const whole = ['1700000000005\n0\nfive', '1700000000006\n2\n["e"]\nsix é'];
      await call.call(
        'XADD',
        key,
        '0-6',
        'n',
        '2',
        'b',
        whole.map((record) => `${Buffer.byteLength(record)}\n${record}`).join(''),
      );
      const next = await log.append('s', [{ payload: 'new', targets: ['c'] }, { payload: 'newer' }]);
      expect(next).toEqual({ epoch: 'old-epoch', seq: 7 });
      const read = await log.read('s', 0);
      expect(read).toMatchObject({ epoch: 'old-epoch', first: 1, last: 8 });
      const [plain, binary, addressed, oneField, five, six, latest, newest] = read!.records;
      expect(five).toEqual({ seq: 5, time: 1700000000005, payload: 'five' });
      expect(six).toEqual({ seq: 6, time: 1700000000006, payload: 'six é', targets: ['e'] });
      expect((await log.read('s', 5, { limit: 1 }))?.records.map((r) => r.payload)).toEqual(['six é']);
      expect(plain).toEqual({ seq: 1, time: 1700000000001, payload: 'plain' });
      expect(binary!.payload).toBeInstanceOf(Uint8Array);
      expect([...(binary!.payload as Uint8Array)]).toEqual([0, 10, 255]);
      expect(binary!.time).toBe(1700000000002);
      expect(addressed).toEqual({
        seq: 3,
        time: 1700000000003,
        payload: 'é\nline',
        targets: ['a', 'b'],
        exclude: 'sender/1',
      });
      expect(oneField).toEqual({ seq: 4, time: 1700000000004, payload: 'one field', targets: ['d'] });
      expect(latest).toMatchObject({ seq: 7, payload: 'new', targets: ['c'] });
      expect(newest).toMatchObject({ seq: 8, payload: 'newer' });
      expect((await log.read('s', 6, { limit: 1 }))?.records.map((r) => r.seq)).toEqual([7]);
    } finally {
      await log.close();
    }
  });

  test('a Redis that is down at start fails with an error naming the URL and the fix', async () => {
    const url = 'redis://:secret@127.0.0.1:1/0';
    let failure: unknown;
    try {
      await connectRedis(Redis, url, {
        source: 'ATMOSPHERE_REDIS_URL',
        purpose: 'durable stream log',
        timeoutMs: 2_000,
      });
    } catch (error) {
      failure = error;
    }
    expect(AtmosphereError.isInstance(failure) && failure.code === 'PROVIDER_FAILED').toBe(true);
    const message = (failure as Error).message;
    expect(message).toContain('redis://:***@127.0.0.1:1/0');
    expect(message).not.toContain('secret');
    expect(message).toContain('ATMOSPHERE_REDIS_URL');
    expect(message).toMatch(/ECONNREFUSED/);
  });

  test('its connection tries again at least every 500 ms however long Redis is away (ioredis alone backs off to 2 s)', async () => {
    const own = await startTestRedis();
    const connection = await connectTo(own.url, 'test log');
    let counter: AttemptCounter | undefined;
    try {
      await own.kill();
      counter = await countConnectionAttempts(own.port);
      const { attempts } = counter;
      // 14 attempts: about 4.8 s at 50, 100, ... 500, 500 ms apart; about 20 s with ioredis's own backoff.
      await eventually(() => attempts.length >= 14, 'fourteen reconnection attempts', 10_000);
      const gaps = attempts.slice(-5).map((at, i, last) => (i === 0 ? 0 : at - last[i - 1]!));
      expect(Math.max(...gaps)).toBeLessThan(1_000);
    } finally {
      await closeRedis(connection);
      await counter?.close();
      await own.stop();
    }
  });

  test('a Redis that goes away fails appends at once with LOG_FAILED; they work again once it is back', async () => {
    const own = await startTestRedis();
    const connection = await connectTo(own.url, 'test log');
    const log = new RedisStreamLog(connection, { prefix: 'away:', onClose: () => closeRedis(connection) });
    try {
      await log.append('s', [{ payload: 'before' }]);
      await own.stop();
      await logFailure(() => log.append('s', [{ payload: 'while down' }]));
      await own.start();
      const position = await appendWhenBack(log, 's', 'after');
      // The restarted Redis kept nothing (no persistence): a new epoch, never a guess.
      expect(position.seq).toBe(1);
    } finally {
      await log.close();
      await own.stop();
    }
  });

  test.each([
    [
      'from its last snapshot (RDB, or appendfsync everysec): writes it had acknowledged are lost',
      'snapshot',
    ],
    ['with appendfsync always: nothing it acknowledged is lost', 'always'],
  ] as const)('Redis killed and restarted %s', async (_, mode) => {
    const own = await startTestRedis({ persistence: mode === 'snapshot' ? 'snapshot' : true });
    const connection = await connectTo(own.url, 'test log');
    const log = new RedisStreamLog(connection, { prefix: 'restart:', onClose: () => closeRedis(connection) });
    const admin = await connectTo(own.url, 'test admin');
    try {
      const first = await log.append('s', [{ payload: 'a' }, { payload: 'b' }]);
      const other = await log.append('other', [{ payload: 'x' }]);
      await (admin as unknown as { call(...args: string[]): Promise<unknown> }).call('SAVE');
      await log.append('s', [{ payload: 'c' }, { payload: 'd' }]);
      await closeRedis(admin);
      await own.kill();
      await own.start();
      const after = await appendWhenBack(log, 's', 'e');
      if (mode === 'snapshot') {
        // The restarted Redis has a and b only; c and d had seqs 3 and 4 that e and what follows would take
        // again. So the stream is in a new epoch, which a subscriber at position 4 is told of (a reset).
        expect(after.epoch).not.toBe(first.epoch);
        expect(after.seq).toBe(3);
        // It goes on from the old epoch's seq 2 (what the snapshot kept): a subscriber there loses nothing.
        expect(await log.state('s')).toEqual({
          epoch: after.epoch,
          first: 1,
          last: 3,
          continues: { epoch: first.epoch, seq: 2 },
        });
        expect((await log.read('other', 0))?.continues).toEqual({ epoch: other.epoch, seq: 1 });
        // A stream made after the restart goes on from nothing.
        await log.append('new', [{ payload: 'n' }]);
        expect((await log.state('new'))?.continues).toBeUndefined();
        expect((await log.read('s', 0))?.epoch).toBe(after.epoch);
        // Every stream: the log cannot tell which lost writes.
        expect((await log.state('other'))?.epoch).not.toBe(other.epoch);
        expect((await log.read('other', 0))?.records.map((r) => r.payload)).toEqual(['x']);
      } else {
        expect(after).toEqual({ epoch: first.epoch, seq: 5 });
        expect((await log.read('s', 0))?.records.map((r) => r.payload)).toEqual(['a', 'b', 'c', 'd', 'e']);
      }
      // A reconnection to the same Redis (no restart) changes nothing.
      const before = await log.state('s');
      (connection as unknown as { disconnect(reconnect: boolean): void }).disconnect(true);
      const next = await appendWhenBack(log, 's', 'f');
      expect(next).toEqual({ epoch: before!.epoch, seq: before!.last + 1 });
    } finally {
      await log.close();
      await own.stop();
    }
  });

  test('a Redis that refuses INFO to the log (an ACL, as some managed offers have) works on, and says once that restarts will not be noticed', async () => {
    const admin = await connectTo(redis.url, 'test admin');
    const call = (admin as unknown as { call(...args: string[]): Promise<unknown> }).call.bind(admin);
    await call('ACL', 'SETUSER', 'no-info', 'on', '>secret-pass', '~*', '&*', '+@all', '-info');
    const url = new URL(redis.url);
    url.username = 'no-info';
    url.password = 'secret-pass';
    const warnings: string[] = [];
    const connection = await connectTo(url.toString(), 'test log');
    const log = new RedisStreamLog(connection, {
      prefix: 'no-info:',
      onClose: () => closeRedis(connection),
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: (message: string) => warnings.push(message),
        error: () => undefined,
      },
    });
    try {
      await log.ready();
      const position = await log.append('s', [{ payload: 'a' }]);
      expect(position.seq).toBe(1);
      expect((await log.read('s', 0))?.records.map((r) => r.payload)).toEqual(['a']);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toContain('will not be noticed');
    } finally {
      await log.close();
      await call('ACL', 'DELUSER', 'no-info');
      await closeRedis(admin);
    }
  });
});
