import { fileURLToPath } from 'node:url';
import {
  assertDelivery,
  checkDelivery,
  connectTestClient,
  eventually,
  type FaultProxy,
  startFaultProxy,
  startTestRedis,
  superviseProcess,
  type SupervisedProcess,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { startNode, type TestNode } from './helpers.ts';

// A cluster of two nodes on a private redis-server: `a` in this process reaches Redis through a fault proxy,
// `b` is a child process (test/fixtures/node.ts) that the test kills with SIGKILL and restarts.
const FIXTURE = fileURLToPath(new URL('./fixtures/node.ts', import.meta.url));

let redis: TestRedis;
let proxy: FaultProxy;
let b: SupervisedProcess;
let a: TestNode | undefined;
let clients: TestClient[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
  proxy = await startFaultProxy(redis.port);
  b = superviseProcess({
    args: ['--conditions=@atmosphere/source', FIXTURE],
    env: { CLUSTER_REDIS_URL: redis.url },
    ready: /listening (\S+)/,
  });
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  clients = [];
  await a?.atmosphere.close();
  a = undefined;
  await b.kill();
  await proxy.close();
  await redis.stop();
});

async function clientOfB(): Promise<TestClient> {
  const client = await connectTestClient(`${b.ready!}chat/lobby`, 'websocket');
  clients.push(client);
  return client;
}

/** Broadcasts "from".."to" on a; returns the numbers whose relay was reported as failed. */
async function broadcast(from: number, to: number, signalled: number[]): Promise<void> {
  for (let i = from; i <= to; i++) {
    const before = a!.atmosphere.relayFailures;
    await a!.atmosphere.broadcast('/chat/lobby', String(i));
    if (a!.atmosphere.relayFailures > before) signalled.push(i);
  }
}

describe('chaos: a node partitioned from Redis, a node killed', () => {
  test('a node partitioned from Redis (fault proxy) keeps its broadcasts and relays them on heal: the node in another process gets every frame once, in order', async () => {
    await b.start();
    a = await startNode({ url: `redis://127.0.0.1:${proxy.port}` });
    const onB = await clientOfB();
    const signalled: number[] = [];
    await broadcast(1, 50, signalled);
    await onB.messages.waitFor((m) => m === '50', 20_000);
    proxy.partition();
    await eventually(() => !a!.backplane.connected, 'a to see Redis gone');
    await broadcast(51, 100, signalled);
    proxy.heal();
    await broadcast(101, 150, signalled);
    await onB.messages.waitFor((m) => m === '150', 20_000);
    const received = onB.messages.items.map(Number);
    assertDelivery({ sent: 150, received, signalled }, 'b');
    expect(signalled).toEqual([]);
  }, 60_000);

  test('without a buffer, every frame lost in a partition is signalled (onRelayFailure), and only those', async () => {
    await b.start();
    a = await startNode({ url: `redis://127.0.0.1:${proxy.port}`, maxBufferedBytes: 0 });
    const onB = await clientOfB();
    const signalled: number[] = [];
    await broadcast(1, 20, signalled);
    // Frames still inside the proxy when it cuts are reported as failed (a count, not their numbers): the
    // partition starts once b has them, so that the signalled numbers are exact.
    await onB.messages.waitFor((m) => m === '20', 20_000);
    proxy.partition();
    await eventually(() => !a!.backplane.connected, 'a to see Redis gone');
    await broadcast(21, 40, signalled);
    proxy.heal();
    // Back, and relaying directly again once the other nodes listen (until then a broadcast is not relayed).
    await eventually(() => a!.backplane.stats().relaying, 'a to relay again', 20_000);
    await broadcast(41, 60, signalled);
    await onB.messages.waitFor((m) => m === '60', 20_000);
    const all = onB.messages.items.map(Number);
    expect(signalled.length).toBeGreaterThanOrEqual(20);
    assertDelivery({ sent: 60, received: all, signalled }, 'b');
    // The same record without the signals fails the check: the assertion sees silent loss.
    expect(checkDelivery({ sent: 60, received: all }).lost).toEqual(
      signalled.filter((n) => !all.includes(n)),
    );
    expect(() => assertDelivery({ sent: 60, received: all })).toThrow(/lost silently/);
  }, 60_000);

  test('a node killed with SIGKILL and restarted serves its clients again; the other node keeps relaying to it', async () => {
    await b.start();
    const firstPid = b.pid;
    a = await startNode({ url: redis.url });
    const before = await clientOfB();
    await a.atmosphere.broadcast('/chat/lobby', 'before');
    expect(await before.messages.next()).toBe('before');
    await b.kill();
    expect(b.pid).toBeUndefined();
    await before.ended;
    await b.start();
    expect(b.pid).not.toBe(firstPid);
    const after = await clientOfB();
    const signalled: number[] = [];
    await broadcast(1, 100, signalled);
    assertDelivery({ sent: 100, received: (await after.messages.take(100, 20_000)).map(Number), signalled });
    expect(signalled).toEqual([]);
  }, 60_000);
});
