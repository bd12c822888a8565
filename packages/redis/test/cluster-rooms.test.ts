import { fileURLToPath } from 'node:url';
import { createRooms, type PresenceEvent, type RoomManager } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import type { ClusterChange } from '@atmosphere/runtime/spi';
import {
  type Inbox,
  startTestAtmosphere,
  startTestRedis,
  superviseProcess,
  type SupervisedProcess,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { redisBackplane, redisClusterState } from '../src/index.ts';
import { joinRoomClient, type RoomFrame as Frame } from './helpers.ts';

// Rooms across nodes sharing one redis-server: membership and presence through the Redis cluster state, room
// traffic through the Redis backplane. Nodes in this process for the ordering and tab tests; a child process
// killed with SIGKILL (test/fixtures/rooms-node.ts) for the lease tests.
const FIXTURE = fileURLToPath(new URL('./fixtures/rooms-node.ts', import.meta.url));

interface Node {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  readonly url: string;
}

let redis: TestRedis;
let nodes: Node[] = [];
let clients: TestClient[] = [];
let child: SupervisedProcess | undefined;

beforeEach(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  clients = [];
  for (const node of nodes) await node.atmosphere.close();
  nodes = [];
  await child?.kill();
  child = undefined;
  await redis.stop();
});

async function startNode(leaseMs = 10_000): Promise<Node> {
  const atmosphere = await startTestAtmosphere({
    providers: [redisBackplane({ url: redis.url }), redisClusterState({ url: redis.url, leaseMs })],
  });
  const rooms = createRooms(atmosphere, { path: '/rooms' });
  const node = { atmosphere, rooms, url: atmosphere.url('/rooms') };
  nodes.push(node);
  return node;
}

function startChild(env: Record<string, string>): SupervisedProcess {
  return (child = superviseProcess({
    args: ['--conditions=@atmosphere/source', FIXTURE],
    env: { CLUSTER_REDIS_URL: redis.url, ...env },
    ready: /listening (\S+)/,
  }));
}

async function join(
  url: string,
  room: string,
  memberId: string,
  sinceId?: number,
): Promise<{ client: TestClient; frames: Inbox<Frame>; ack: Frame }> {
  const joined = await joinRoomClient(url, room, memberId, sinceId);
  clients.push(joined.client);
  return joined;
}

const ids = (ack: Frame): string[] => (ack['members'] as { id: string }[]).map((m) => m.id).sort();
const presence = (frames: readonly Frame[]): string[] =>
  frames.filter((f) => f.type === 'presence').map((f) => `${String(f['action'])} ${String(f['memberId'])}`);

/** Resolves with the next change the node's cluster state publishes that matches. */
function nextChange(node: Node, match: (change: ClusterChange) => boolean): Promise<ClusterChange> {
  const state = node.atmosphere.provider('cluster-state')!;
  return new Promise((resolve) => {
    const stop = state.onChange((change) => {
      if (!match(change)) return;
      stop();
      resolve(change);
    });
  });
}

describe('rooms across nodes: shared membership', () => {
  test('a joiner on a node that has not opened the room yet gets a join_ack listing the members on the other node, every time (the cluster view loads before the first ack)', async () => {
    const a = await startNode();
    const b = await startNode();
    for (let i = 0; i < 15; i++) {
      const room = `order-${i}`;
      await join(a.url, room, 'alice');
      await join(a.url, room, 'bob');
      // b has never seen this room: its join creates it, and the ack must wait for the cluster view.
      expect(b.rooms.exists(room)).toBe(false);
      const carol = await join(b.url, room, 'carol');
      expect(ids(carol.ack)).toEqual(['alice', 'bob', 'carol']);
    }
  }, 60_000);

  test('two tabs of one member on two nodes are one member: one join, no leave until the last tab goes', async () => {
    const a = await startNode();
    const b = await startNode();
    const watcher = await join(a.url, 'lobby', 'watcher');
    const events: PresenceEvent[] = [];
    a.rooms.room('lobby').onPresence((event) => events.push(event));
    const tab1 = await join(a.url, 'lobby', 'alice');
    await watcher.frames.waitFor((f) => f.type === 'presence' && f['memberId'] === 'alice');
    const bNode = b.atmosphere.provider('cluster-state')!.nodeId;
    const held = nextChange(a, (c) => c.action === 'hold' && c.member === 'alice' && c.node === bNode);
    const tab2 = await join(b.url, 'lobby', 'alice');
    expect(ids(tab2.ack)).toEqual(['alice', 'watcher']);
    await held;
    // The first tab goes: alice is still in the room through b.
    const released = nextChange(a, (c) => c.action === 'release' && c.member === 'alice');
    await tab1.client.close();
    await released;
    await a.rooms.room('lobby').broadcast('marker');
    await watcher.frames.waitFor((f) => f.type === 'message' && f['data'] === 'marker');
    expect(presence(watcher.frames.items)).toEqual(['join alice']);
    // The last tab goes: one leave.
    await tab2.client.close();
    await watcher.frames.waitFor((f) => f.type === 'presence' && f['action'] === 'leave');
    expect(presence(watcher.frames.items)).toEqual(['join alice', 'leave alice']);
    expect(events.map((e) => `${e.action} ${e.member.id}`)).toEqual(['join alice', 'leave alice']);
  }, 60_000);
});

describe('rooms across nodes: a node killed with SIGKILL', () => {
  test('a node with 50 members killed: each gets a presence leave on the other node within the lease bound; after a restart nothing is left', async () => {
    const leaseMs = 2_000;
    const a = await startNode(leaseMs);
    const b = startChild({ CLUSTER_LEASE_MS: String(leaseMs) });
    const bUrl = (await b.start())!;
    const watcher = await join(a.url, 'lobby', 'watcher');
    const events: PresenceEvent[] = [];
    a.rooms.room('lobby').onPresence((event) => events.push(event));
    const members = Array.from({ length: 50 }, (_, i) => `m${i}`);
    for (const id of members) {
      const joined = await join(bUrl, 'lobby', id);
      expect(ids(joined.ack)).toContain('watcher');
    }
    await watcher.frames.waitForCount(1 + 50);
    expect(presence(watcher.frames.items).sort()).toEqual(members.map((id) => `join ${id}`).sort());

    const killed = Date.now();
    await b.kill();
    const left = new Set<string>();
    await watcher.frames.waitFor((f) => {
      if (f.type === 'presence' && f['action'] === 'leave') left.add(String(f['memberId']));
      return left.size === 50;
    }, 30_000);
    const took = Date.now() - killed;
    expect([...left].sort()).toEqual([...members].sort());
    // The lease plus one sweep (a quarter lease), and the time to hear of it.
    expect(took).toBeLessThanOrEqual(leaseMs * 1.25 + 1_000);
    expect(presence(watcher.frames.items).filter((p) => p.startsWith('leave')).length).toBe(50);
    const leaves = events.filter((e) => e.action === 'leave');
    expect(leaves).toHaveLength(50);
    for (const leave of leaves) expect(leave).toMatchObject({ reason: 'node-lost' });

    // Restarted (a new process, a new node id): nothing of the first run is left, and a new member is seen.
    const again = (await b.start())!;
    const dave = await join(again, 'lobby', 'dave');
    expect(ids(dave.ack)).toEqual(['dave', 'watcher']);
    await watcher.frames.waitFor((f) => f.type === 'presence' && f['memberId'] === 'dave');
    const snapshot = await a.atmosphere.provider('cluster-state')!.snapshot('room:lobby');
    expect(snapshot.entries.map((e) => e.member).sort()).toEqual(['dave', 'watcher']);
  }, 90_000);

  test('a node restarted under the same id leaves no ghost: its old members leave at once (not at lease expiry) and a watcher sees the new join', async () => {
    const a = await startNode();
    const b = startChild({ CLUSTER_NODE_ID: 'node-b', CLUSTER_LEASE_MS: '60000' });
    const bUrl = (await b.start())!;
    const watcher = await join(a.url, 'lobby', 'watcher');
    for (const id of ['ghost1', 'ghost2']) await join(bUrl, 'lobby', id);
    await watcher.frames.waitForCount(3);
    await b.kill();
    const restarted = Date.now();
    const again = (await b.start())!;
    const left = new Set<string>();
    await watcher.frames.waitFor((f) => {
      if (f.type === 'presence' && f['action'] === 'leave') left.add(String(f['memberId']));
      return left.size === 2;
    });
    // Far sooner than the 60 s lease: the restart itself dropped them.
    expect(Date.now() - restarted).toBeLessThan(30_000);
    const fresh = await join(again, 'lobby', 'fresh');
    expect(ids(fresh.ack)).toEqual(['fresh', 'watcher']);
    await watcher.frames.waitFor((f) => f.type === 'presence' && f['memberId'] === 'fresh');
    expect(presence(watcher.frames.items)).toEqual([
      'join ghost1',
      'join ghost2',
      ...[...left].map((id) => `leave ${id}`),
      'join fresh',
    ]);
  }, 90_000);
});
