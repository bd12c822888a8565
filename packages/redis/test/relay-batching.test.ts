import {
  type Awaitable,
  defineProvider,
  type LogEntry,
  type LogRead,
  type LogReadOptions,
  MemoryStreamLog,
  type StreamLog,
  type StreamPosition,
  type StreamState,
} from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  startTestRedis,
  type TestClient,
  type TestRedis,
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
class BatchingLog implements StreamLog {
  readonly name = 'batching';
  readonly durable = false;
  readonly shared = false;
  readonly batchAppends = true;
  readonly calls: number[] = [];
  readonly #inner = new MemoryStreamLog();

  append(stream: string, entries: readonly LogEntry[]): Awaitable<StreamPosition> {
    this.calls.push(entries.length);
    const position = this.#inner.append(stream, entries);
    return Promise.resolve(position);
  }

  read(stream: string, after: number, options?: LogReadOptions): Awaitable<LogRead | undefined> {
    return this.#inner.read(stream, after, options);
  }

  state(stream: string): Awaitable<StreamState | undefined> {
    return this.#inner.state(stream);
  }

  trim(stream: string, before: number): Awaitable<void> {
    return this.#inner.trim(stream, before);
  }

  delete(stream: string): Awaitable<void> {
    return this.#inner.delete(stream);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}

test('1 000 relays arriving together are appended in a few calls, and delivered once each, in order, at consecutive positions', async () => {
  const log = new BatchingLog();
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
