import { durable } from '@atmosphere/durable-sessions';
import type { Atmosphere } from '@atmosphere/runtime';
import type { RelayFailure } from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  eventually,
  type FaultProxy,
  startFaultProxy,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type RedisBackplane, redisBackplane, type RedisBackplaneOptions } from '../src/index.ts';
import { positioned, readPositioned } from './helpers.ts';

/**
 * Positions across nodes (DURABILITY.md §4): the Redis relay carries each message's position in the shared
 * log (the Redis Streams log of @atmosphere/durable-sessions); a node that sees a jump fills it from the log
 * before anything newer, sends a reset frame where the log cannot, and reconciles every stream from the log
 * when its subscription comes back after an outage. Real redis-servers (one for the relay, one for the log),
 * real nodes, real WebSocket clients that ask for positions.
 */
let bus: TestRedis;
let store: TestRedis;
let nodes: Atmosphere[] = [];
let clients: TestClient[] = [];
let proxies: FaultProxy[] = [];
let run = 0;

beforeAll(async () => {
  [bus, store] = await Promise.all([startTestRedis(), startTestRedis()]);
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.close()));
  await Promise.all(proxies.map((proxy) => proxy.close()));
  clients = [];
  nodes = [];
  proxies = [];
});

afterAll(async () => {
  await Promise.all([bus?.stop(), store?.stop()]);
});

interface ClusterNode {
  readonly atmosphere: Atmosphere;
  readonly backplane: RedisBackplane;
}

/** A node relaying through `bus`, its stream log on `store` (or `logUrl`), serving `/chat/{room}`. */
async function node(options: Partial<RedisBackplaneOptions> = {}, logUrl = store.url): Promise<ClusterNode> {
  const atmosphere = await startTestAtmosphere({
    autoload: false,
    rateLimit: false,
    providers: [
      redisBackplane({ url: bus.url, channelPrefix: `gaps${run}:`, ...options }),
      ...durable({ redis: logUrl, prefix: `gaps${run}:`, kinds: ['stream-log'] }),
    ],
  });
  nodes.push(atmosphere);
  atmosphere.managed('/chat/{room}', {}, { codec: 'text' });
  expect(atmosphere.log.shared).toBe(true);
  return { atmosphere, backplane: atmosphere.provider('broadcaster-backplane') as RedisBackplane };
}

async function positionedClient(at: ClusterNode, room = 'gap'): Promise<TestClient> {
  const client = await connectTestClient(at.atmosphere.url(`/chat/${room}`), 'websocket', {
    query: positioned(),
  });
  clients.push(client);
  // Subscribed once the broadcaster of the room exists on the node.
  await eventually(() => (at.atmosphere.broadcasters.find(`/chat/${room}`)?.size ?? 0) > 0, 'subscribed');
  return client;
}

function big(label: string): string {
  return `${label}:${'x'.repeat(400)}`;
}

function short(text: string): string {
  return text.length > 300 ? text.slice(0, text.indexOf(':')) : text;
}

describe('a jump in the sequence', () => {
  test('a relay that never arrived is filled from the log, in order, before the newer message', async () => {
    run++;
    // Broadcasts over 300 bytes reach a's own clients and the log, but not the relay.
    const a = await node({ maxMessageBytes: 300 });
    const b = await node();
    const failures: RelayFailure[] = [];
    a.atmosphere.onRelayFailure((failure) => failures.push(failure));
    const onB = await positionedClient(b);
    await a.atmosphere.broadcast('/chat/gap', 'm1');
    await onB.messages.waitForCount(1);
    await a.atmosphere.broadcast('/chat/gap', big('m2'));
    await a.atmosphere.broadcast('/chat/gap', big('m3'));
    await a.atmosphere.broadcast('/chat/gap', 'm4');
    const read = readPositioned(await onB.messages.waitForCount(4, 10_000));
    expect(read.bodies.map(short)).toEqual(['m1', 'm2', 'm3', 'm4']);
    expect(read.bodies[1]).toBe(big('m2'));
    expect(read.seqs).toEqual([1, 2, 3, 4]);
    expect(read.resets).toEqual([]);
    expect(failures.map((failure) => failure.reason)).toEqual(['too-large', 'too-large']);
    expect(b.atmosphere.broadcasters.sequencerStats()).toMatchObject({ filled: 2, resets: 0 });
    // Nothing more: the fill delivered m2 and m3 once.
    await a.atmosphere.broadcast('/chat/gap', 'm5');
    expect(readPositioned(await onB.messages.waitForCount(5)).order.map(short)).toEqual([
      'm1',
      'm2',
      'm3',
      'm4',
      'm5',
    ]);
  });

  test('what the log no longer holds is a reset frame before the newer message; what it holds follows', async () => {
    run++;
    const a = await node({ maxMessageBytes: 300 });
    const b = await node();
    const onB = await positionedClient(b);
    await a.atmosphere.broadcast('/chat/gap', 'm1');
    await onB.messages.waitForCount(1);
    await a.atmosphere.broadcast('/chat/gap', big('m2'));
    await a.atmosphere.broadcast('/chat/gap', big('m3'));
    // m2 leaves the log before b learns of the jump.
    await a.atmosphere.log.trim('/chat/gap', 3);
    await a.atmosphere.broadcast('/chat/gap', 'm4');
    const read = readPositioned(await onB.messages.waitForCount(4, 10_000));
    expect(read.order.map(short)).toEqual(['m1', 'reset:2->3', 'm3', 'm4']);
    expect(read.seqs).toEqual([1, 3, 4]);
    expect(read.resets[0]!.from.epoch).toBe(read.resets[0]!.resumeAt!.epoch);
    // Trimmed through the newer message's predecessor: the reset resumes at the newer message itself.
    await a.atmosphere.broadcast('/chat/gap', big('m5'));
    await a.atmosphere.broadcast('/chat/gap', big('m6'));
    await a.atmosphere.log.trim('/chat/gap', 7);
    await a.atmosphere.broadcast('/chat/gap', 'm7');
    const after = readPositioned((await onB.messages.waitForCount(6, 10_000)).slice(4));
    expect(after.order).toEqual(['reset:5->7', 'm7']);
    expect(b.atmosphere.broadcasters.sequencerStats()).toMatchObject({ filled: 1, resets: 2 });
  });

  test('a log that cannot be read is a reset frame before the newer message, never a silent gap', async () => {
    run++;
    const a = await node({ maxMessageBytes: 300 });
    // b reads the log through a proxy that the test partitions; a writes it directly.
    const proxy = await startFaultProxy(store.port);
    proxies.push(proxy);
    const b = await node({}, `redis://127.0.0.1:${proxy.port}`);
    const onB = await positionedClient(b);
    await a.atmosphere.broadcast('/chat/gap', 'm1');
    await onB.messages.waitForCount(1);
    await a.atmosphere.broadcast('/chat/gap', big('m2'));
    proxy.partition();
    await a.atmosphere.broadcast('/chat/gap', 'm3');
    const read = readPositioned(await onB.messages.waitForCount(3, 10_000));
    expect(read.order).toEqual(['m1', 'reset:2->3', 'm3']);
    expect(read.seqs).toEqual([1, 3]);
    proxy.heal();
  });

  test('two nodes broadcasting at once: every node delivers the stream in log order, each message once', async () => {
    run++;
    const a = await node();
    const b = await node();
    const c = await node();
    const readers = await Promise.all([a, b, c].map((at) => positionedClient(at, 'busy')));
    const sends: Promise<void>[] = [];
    for (let i = 1; i <= 150; i++) {
      sends.push(a.atmosphere.broadcast('/chat/busy', `a${i}`));
      sends.push(b.atmosphere.broadcast('/chat/busy', `b${i}`));
    }
    await Promise.all(sends);
    for (const reader of readers) {
      const read = readPositioned(await reader.messages.waitForCount(300, 15_000));
      expect(read.resets).toEqual([]);
      expect(read.seqs).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));
      expect(new Set(read.bodies).size).toBe(300);
      // Each node's own messages keep their order.
      expect(read.bodies.filter((body) => body.startsWith('a'))).toEqual(
        Array.from({ length: 150 }, (_, i) => `a${i + 1}`),
      );
    }
    // Whatever the interleaving, every node delivered the same sequence.
    const orders = readers.map((reader) => readPositioned(reader.messages.items).bodies.join(' '));
    expect(new Set(orders).size).toBe(1);
  });
});

describe('late relays', () => {
  test('a client that resumed from the log on a node whose relays are late gets each message once', async () => {
    run++;
    const a = await node();
    // b relays through a proxy the test stalls: its copies of a's broadcasts arrive after the log served them.
    const proxy = await startFaultProxy(bus.port);
    proxies.push(proxy);
    const b = await node({ url: `redis://127.0.0.1:${proxy.port}` });
    const watcher = await positionedClient(b);
    const first = await positionedClient(a);
    for (let i = 1; i <= 3; i++) await a.atmosphere.broadcast('/chat/gap', `m${i}`);
    const before = readPositioned(await first.messages.waitForCount(3));
    await watcher.messages.waitForCount(3);
    proxy.stall();
    first.cut();
    for (let i = 4; i <= 10; i++) await a.atmosphere.broadcast('/chat/gap', `m${i}`);
    const second = await connectTestClient(b.atmosphere.url('/chat/gap'), 'websocket', {
      query: positioned(before.cursors),
    });
    clients.push(second);
    const replayed = readPositioned(await second.messages.waitForCount(7, 10_000));
    expect(replayed.bodies).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10']);
    proxy.resume();
    // The late relays reach b now: its watcher gets them; the resumed client had them from the log.
    await watcher.messages.waitForCount(10, 10_000);
    await a.atmosphere.broadcast('/chat/gap', 'm11');
    const watched = readPositioned(await watcher.messages.waitForCount(11, 10_000));
    expect(watched.seqs).toEqual(Array.from({ length: 11 }, (_, i) => i + 1));
    const after = readPositioned(await second.messages.waitForCount(8, 10_000));
    expect(after.bodies).toEqual(['m4', 'm5', 'm6', 'm7', 'm8', 'm9', 'm10', 'm11']);
    expect(after.resets).toEqual([]);
  });
});

describe.each([
  { label: 'no buffer (relays fail while Redis is away)', maxBufferedBytes: 0 },
  {
    label: 'the default buffer (kept relays arrive before or after the reconcile)',
    maxBufferedBytes: undefined,
  },
])('Redis of the relay killed (SIGKILL) and restarted, $label', ({ maxBufferedBytes }) => {
  test('every node reconciles from the log: the missed messages arrive once, in order, before newer ones', async () => {
    run++;
    const a = await node(maxBufferedBytes === undefined ? {} : { maxBufferedBytes });
    const b = await node();
    const failures: RelayFailure[] = [];
    a.atmosphere.onRelayFailure((failure) => failures.push(failure));
    const onB = await positionedClient(b);
    await a.atmosphere.broadcast('/chat/gap', 'm1');
    await onB.messages.waitForCount(1);
    await bus.kill();
    await eventually(() => !a.backplane.connected && !b.backplane.connected, 'both nodes to see Redis gone');
    // The log is up: these are appended and reach a's own clients; the relay cannot carry them now.
    for (let i = 2; i <= 6; i++) await a.atmosphere.broadcast('/chat/gap', `m${i}`);
    if (maxBufferedBytes === 0) {
      // Reported to the caller's node, one by one, never dropped quietly.
      expect(failures.map((failure) => failure.reason)).toEqual(Array(5).fill('offline'));
      expect(a.backplane.stats().notRelayed.offline).toBe(5);
    } else {
      expect(a.backplane.stats().buffered).toBe(5);
    }
    await bus.start();
    // b's subscription is back: it reads the stream on from m1 without any new broadcast.
    const reconciled = readPositioned(await onB.messages.waitForCount(6, 20_000));
    expect(reconciled.bodies).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    await eventually(() => a.backplane.stats().relaying, 'a to relay again', 20_000);
    await a.atmosphere.broadcast('/chat/gap', 'm7');
    await onB.messages.waitFor((message) => message.endsWith('|m7'), 10_000);
    const stats = () => b.atmosphere.broadcasters.sequencerStats();
    if (maxBufferedBytes === undefined) {
      // The kept relays were sent (a waits until as many nodes as before subscribe again), none reported lost.
      expect(a.backplane.stats()).toMatchObject({ buffered: 0, notRelayed: { offline: 0, failed: 0 } });
      expect(failures).toEqual([]);
      // b reconciles from the log when its subscription is back, and a relays what it kept once b listens:
      // whichever brings one of m2..m6 first delivers it, the other is left out as a duplicate. So every message
      // the log filled is followed by its kept relay (relayed first, the reconcile has nothing left to read).
      await eventually(
        () => (stats()?.duplicates ?? 0) >= (stats()?.filled ?? 0),
        'the kept relays to reach b',
        10_000,
      );
      expect(stats()?.filled).toBeLessThanOrEqual(5);
    } else {
      expect(stats()).toMatchObject({ filled: 5 });
    }
    const read = readPositioned(onB.messages.items);
    expect(read.order).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7']);
    expect(read.seqs).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(stats()).toMatchObject({ resets: 0 });
  }, 40_000);
});
