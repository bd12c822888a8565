import { defineProvider, MemoryStreamLog, type StreamLog } from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  startTestRedis,
  type TestClient,
  type TestRedis,
  watchedLog,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { redisBackplane } from '../src/index.ts';
import { positioned, readPositioned, startNode, type TestNode } from './helpers.ts';

/**
 * A node whose log is its own (not shared) appends what it receives from the others, so that its clients can
 * resume from it. With a store that takes a turn's appends together, the relays of one broadcaster that
 * arrive together are appended in one call — not one call per message — and still delivered each at its
 * position, in order.
 */
let redis: TestRedis;
let nodes: TestNode[] = [];
let clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.atmosphere.close()));
  clients = [];
  nodes = [];
});

afterAll(async () => {
  await redis.stop();
});

/** A store that takes a turn's appends together and answers later (as SQLite or Redis would): counts its calls. */
function batchingLog(): StreamLog & { readonly calls: number[] } {
  const calls: number[] = [];
  const log = watchedLog(
    new MemoryStreamLog(),
    { append: (_stream, entries) => calls.push(entries.length) },
    { name: 'batching', durable: false, shared: false, batchAppends: true, deferred: true },
  );
  return Object.assign(log, { calls });
}

test('1 000 relays arriving together are appended in a few calls, and delivered once each, in order, at consecutive positions', async () => {
  const log = batchingLog();
  const a = await startNode({ url: redis.url, channelPrefix: 'batch:' });
  const b = await startNode(
    { url: redis.url, channelPrefix: 'batch:' },
    {
      providers: [
        redisBackplane({ url: redis.url, channelPrefix: 'batch:' }),
        defineProvider({
          kind: 'stream-log',
          name: 'batching',
          priority: 10,
          isAvailable: () => true,
          create: () => log,
        }),
      ],
    },
  );
  nodes.push(a, b);
  expect(b.atmosphere.log.name).toBe('batching');
  const onB = await connectTestClient(b.atmosphere.url('/chat/lobby'), 'websocket', { query: positioned() });
  clients.push(onB);
  const count = 1_000;
  await Promise.all(
    Array.from({ length: count }, (_, i) => a.atmosphere.broadcast('/chat/lobby', `m${i + 1}`)),
  );
  const read = readPositioned(await onB.messages.waitForCount(count, 20_000));
  expect(read.bodies).toEqual(Array.from({ length: count }, (_, i) => `m${i + 1}`));
  expect(read.seqs).toEqual(Array.from({ length: count }, (_, i) => i + 1));
  const relayed = log.calls.reduce((sum, n) => sum + n, 0);
  expect(relayed).toBe(count);
  // One call per message before; the relays of one read of the socket now go together.
  expect(log.calls.length).toBeLessThanOrEqual(count / 4);
  console.info(`${count} relays appended in ${log.calls.length} call(s)`);
});
