import { fileURLToPath } from 'node:url';
import type { StreamCursor } from '@atmosphere/protocol';
import { durable } from '@atmosphere/durable-sessions';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  eventually,
  startTestAtmosphere,
  startTestRedis,
  superviseProcess,
  type SupervisedProcess,
  type TestClient,
  type TestRedis,
  type TestTransport,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { redisBackplane } from '../src/index.ts';
import { connectPositioned, readPositioned } from './helpers.ts';

/**
 * Resume on any node (DURABILITY.md §1, §4): a client that was on node A and comes back to node B — A still
 * up, or killed with SIGKILL — presents its position and gets exactly what it missed of the stream, from the
 * shared log (the Redis Streams log of @atmosphere/durable-sessions), in order, none twice, before anything
 * newer. Every transport; real redis-servers, real nodes (A a child process where it is killed).
 */
const TRANSPORTS: TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];
const FIXTURE = fileURLToPath(new URL('./fixtures/log-node.ts', import.meta.url));

let bus: TestRedis;
let store: TestRedis;
let nodes: Atmosphere[] = [];
let clients: TestClient[] = [];
let processes: SupervisedProcess[] = [];
let run = 0;

beforeAll(async () => {
  [bus, store] = await Promise.all([startTestRedis(), startTestRedis()]);
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.close()));
  await Promise.all(processes.map((child) => child.kill()));
  clients = [];
  nodes = [];
  processes = [];
});

afterAll(async () => {
  await Promise.all([bus?.stop(), store?.stop()]);
});

function prefix(): string {
  return `resume${run}:`;
}

async function node(): Promise<Atmosphere> {
  const atmosphere = await startTestAtmosphere({
    autoload: false,
    rateLimit: false,
    providers: [
      redisBackplane({ url: bus.url, channelPrefix: prefix() }),
      ...durable({ redis: store.url, prefix: prefix(), kinds: ['stream-log'] }),
    ],
  });
  nodes.push(atmosphere);
  atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  return atmosphere;
}

/** A positioned client of `url`; with `cursors`, it resumes from them. */
async function connect(
  url: string,
  transport: TestTransport,
  cursors?: readonly StreamCursor[],
): Promise<TestClient> {
  const client = await connectPositioned(url, transport, cursors);
  clients.push(client);
  return client;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);
}

describe.each(TRANSPORTS)('%s', (transport) => {
  test('a client of node A that comes back to node B gets exactly what it missed, then what is new', async () => {
    run++;
    const a = await node();
    const b = await node();
    const first = await connect(a.url('/chat/lobby'), transport);
    await eventually(() => (a.broadcasters.find('/chat/lobby')?.size ?? 0) > 0, 'subscribed on a');
    // Broadcast on both nodes: the positions come from the shared log, whichever node appended.
    await b.broadcast('/chat/lobby', 'm1');
    await a.broadcast('/chat/lobby', 'm2');
    await b.broadcast('/chat/lobby', 'm3');
    const before = readPositioned(await first.messages.waitForCount(3, 10_000));
    expect(before.bodies).toEqual(range(1, 3));
    first.cut();
    for (let i = 4; i <= 40; i++) await (i % 2 === 0 ? a : b).broadcast('/chat/lobby', `m${i}`);
    const second = await connect(b.url('/chat/lobby'), transport, before.cursors);
    const resumed = readPositioned(await second.messages.waitForCount(37, 10_000));
    expect(resumed.order).toEqual(range(4, 40));
    expect(resumed.seqs).toEqual(Array.from({ length: 37 }, (_, i) => i + 4));
    await a.broadcast('/chat/lobby', 'm41');
    const after = readPositioned(await second.messages.waitForCount(38, 10_000));
    expect(after.order).toEqual(range(4, 41));
    expect(after.resets).toEqual([]);
  });
});

describe('node A killed with SIGKILL', () => {
  test.each(['websocket', 'sse', 'long-polling'] as const)(
    '%s: its client comes back to node B and gets exactly what it missed, none twice',
    async (transport) => {
      run++;
      const a = superviseProcess({
        args: ['--conditions=@atmosphere/source', FIXTURE],
        env: { CLUSTER_REDIS_URL: bus.url, CLUSTER_LOG_URL: store.url, CLUSTER_PREFIX: prefix() },
        ready: /listening (\S+)/,
      });
      processes.push(a);
      await a.start();
      const b = await node();
      const first = await connect(`${a.ready!}chat/lobby`, transport);
      // The child's subscription is active once it listens, and the client's once it is connected.
      for (let i = 1; i <= 3; i++) await b.broadcast('/chat/lobby', `m${i}`);
      const seen = readPositioned(await first.messages.waitForCount(3, 10_000));
      expect(seen.bodies).toEqual(range(1, 3));
      const next = seen.seqs.at(-1)! + 1;
      await a.kill();
      await first.ended;
      const bodies: string[] = [];
      for (let i = 0; i < 30; i++) {
        bodies.push(`k${i}`);
        await b.broadcast('/chat/lobby', `k${i}`);
      }
      const second = await connect(b.url('/chat/lobby'), transport, seen.cursors);
      const resumed = readPositioned(await second.messages.waitForCount(30, 10_000));
      expect(resumed.resets).toEqual([]);
      expect(resumed.bodies).toEqual(bodies);
      expect(resumed.seqs).toEqual(Array.from({ length: 30 }, (_, i) => next + i));
    },
    40_000,
  );
});
