import type { ClusterChange } from '@atmosphere/runtime/spi';
import {
  eventually,
  type FaultProxy,
  startFaultProxy,
  startTestRedis,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { Redis } from 'ioredis';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { RedisClusterState } from '../src/index.ts';

/**
 * A node whose change subscription is cut (a partition from Redis) misses the changes published meanwhile:
 * when it is back, it catches up from the store for every scope it loaded, so its rooms' views are right
 * again without waiting for the room to be opened anew.
 */
let redis: TestRedis;
let proxy: FaultProxy;
let states: RedisClusterState[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
  proxy = await startFaultProxy(redis.port);
});

afterEach(async () => {
  await Promise.all(states.map((state) => state.close().catch(() => undefined)));
  states = [];
  await proxy.close();
  await redis.stop();
});

function state(port: number, nodeId: string): RedisClusterState {
  const created = new RedisClusterState({
    connect: () => new Redis(`redis://127.0.0.1:${port}`, { lazyConnect: true, maxRetriesPerRequest: 2 }),
    keyPrefix: 'catch-up:',
    nodeId,
    leaseMs: 30_000,
  });
  states.push(created);
  return created;
}

/** hold/release changes of `scope` as `<action> <member> #<seq>`. */
function describe(changes: readonly ClusterChange[], scope: string): string[] {
  return changes
    .filter((change) => change.action !== 'signal' && change.scope === scope)
    .map((change) => (change.action === 'signal' ? '' : `${change.action} ${change.member} #${change.seq}`));
}

test('changes made while a node was partitioned from Redis reach it when the partition heals: the net effect, in seq order, once', async () => {
  const a = state(redis.port, 'a');
  const b = state(proxy.port, 'b');
  await Promise.all([a.start(), b.start()]);
  const seen: ClusterChange[] = [];
  b.onChange((change) => seen.push(change));
  // b loads the room (as a room's view does), then follows its changes.
  expect((await b.snapshot('room:x')).entries).toEqual([]);
  await a.hold('room:x', 'm1', { n: 1 });
  await eventually(() => describe(seen, 'room:x').length === 1, 'the first change on b');
  proxy.partition();
  await a.hold('room:x', 'm2', { n: 2 });
  await a.release('room:x', 'm1');
  await a.hold('room:x', 'm3', { n: 3 });
  await a.hold('room:x', 'm2', { n: 22 });
  // Nothing reached b: its subscription is down.
  expect(describe(seen, 'room:x')).toEqual(['hold m1 #1']);
  proxy.heal();
  await eventually(() => describe(seen, 'room:x').length >= 4, 'the catch-up on b', 15_000);
  // Four changes were missed (seqs 2..5); their net effect is three: m1 gone, m2 with its last data, m3.
  expect(describe(seen, 'room:x')).toEqual(['hold m1 #1', 'release m1 #3', 'hold m2 #4', 'hold m3 #5']);
  const m2 = seen.findLast((change) => change.action === 'hold' && change.member === 'm2');
  expect(m2).toMatchObject({ node: 'a', data: { n: 22 } });
  // Live again: the next change follows, once.
  await a.release('room:x', 'm3');
  await eventually(() => describe(seen, 'room:x').length === 5, 'the live change after the catch-up');
  expect(describe(seen, 'room:x').at(-1)).toBe('release m3 #6');
  expect((await b.snapshot('room:x')).entries.map((entry) => entry.member)).toEqual(['m2']);
}, 30_000);

test('a scope the node forgot (its view closed) is not caught up: nothing of it is kept', async () => {
  const a = state(redis.port, 'a');
  const b = state(proxy.port, 'b');
  await Promise.all([a.start(), b.start()]);
  const seen: ClusterChange[] = [];
  b.onChange((change) => seen.push(change));
  await b.snapshot('room:gone');
  await b.snapshot('room:kept');
  b.forget('room:gone');
  proxy.partition();
  await a.hold('room:gone', 'm1', {});
  await a.hold('room:kept', 'm1', {});
  proxy.heal();
  await eventually(
    () => describe(seen, 'room:kept').length === 1,
    'the catch-up of the room still followed',
    15_000,
  );
  expect(describe(seen, 'room:gone')).toEqual([]);
}, 30_000);
