import { afterAll, beforeAll, expect, test } from 'vitest';
import { closeRedis, connectRedis, loadIoredis, type RedisConnectionLike } from '../src/redis/connection.ts';
import { RedisStreamLog } from '../src/redis/redis-stream-log.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

/**
 * The log's Lua scripts run by SHA1; a Redis that does not know them (never loaded, restarted, SCRIPT FLUSH)
 * answers NOSCRIPT. Appends of one stream made in successive turns, none awaited, must still be numbered in
 * the order they were called — a retry after loading the script must not let a later append overtake it.
 */
const Redis = await loadIoredis();
let redis: TestRedis;
let connection: RedisConnectionLike;
beforeAll(async () => {
  redis = await startTestRedis();
  connection = await connectRedis(Redis, redis.url, {
    source: 'the test',
    purpose: 'test log',
    timeoutMs: 5_000,
  });
});
afterAll(async () => {
  await closeRedis(connection);
  await redis?.stop();
});

test.each([1, 2, 3])(
  'appends in successive turns after SCRIPT FLUSH are numbered in call order (round %i)',
  async (round) => {
    const log = new RedisStreamLog(connection, { prefix: `order${round}:` });
    // Redis forgets the scripts on a live connection (as SCRIPT FLUSH does; a restart does it on a new one).
    await (connection as unknown as { call(...args: string[]): Promise<unknown> }).call('SCRIPT', 'FLUSH');
    const appends: Promise<{ seq: number }>[] = [];
    for (let i = 0; i < 40; i++) {
      appends.push(log.append('/s', [{ payload: `m${i}` }]));
      // Each append in its own turn: its own script call, sent while the ones before wait for their answer.
      await new Promise((resolve) => setImmediate(resolve));
    }
    const seqs = (await Promise.all(appends)).map((position) => position.seq);
    expect(seqs).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    const read = await log.read('/s', 0);
    expect(read!.records.map((record) => record.payload)).toEqual(
      Array.from({ length: 40 }, (_, i) => `m${i}`),
    );
  },
);
