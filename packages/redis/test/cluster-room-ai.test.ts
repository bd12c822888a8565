import { llmRoomMember, type LlmRoomMember } from '@atmosphere/ai/rooms';
import { demoRuntime } from '@atmosphere/ai';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  type Inbox,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { redisBackplane, redisClusterState } from '../src/index.ts';
import { connectRoomClient, type RoomFrame as Frame } from './helpers.ts';

// An AI member seated in one room on every node of a cluster (one redis-server): every node's copy hears every
// message (room messages reach the virtual members of other nodes through the cluster state), and each message
// is answered once, by the node that claims it.

interface Node {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  readonly url: string;
  readonly ai: LlmRoomMember;
}

let redis: TestRedis;
let nodes: Node[] = [];
let clients: TestClient[] = [];

beforeEach(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  clients = [];
  for (const node of nodes) {
    await node.ai.close();
    await node.atmosphere.close();
  }
  nodes = [];
  await redis.stop();
});

async function startNode(): Promise<Node> {
  const atmosphere = await startTestAtmosphere({
    providers: [redisBackplane({ url: redis.url }), redisClusterState({ url: redis.url })],
  });
  const rooms = createRooms(atmosphere, { path: '/rooms' });
  const ai = llmRoomMember({
    id: 'assistant',
    answers: 'all',
    runtime: demoRuntime({ delayMs: 0, answer: (context) => `answer to ${context.message}` }),
  });
  rooms.room('lobby').joinVirtual(ai);
  const node = { atmosphere, rooms, url: atmosphere.url('/rooms'), ai };
  nodes.push(node);
  return node;
}

async function member(url: string, memberId: string): Promise<{ client: TestClient; frames: Inbox<Frame> }> {
  const { client, frames } = await connectRoomClient(url);
  clients.push(client);
  await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId }));
  const ack = await frames.waitFor((f) => f.type === 'join_ack');
  expect((ack['members'] as { id: string }[]).filter((m) => m.id === 'assistant')).toHaveLength(1);
  return { client, frames };
}

const textOf = (frame: Frame): string => {
  const data = frame['data'] as { text?: unknown } | string;
  return typeof data === 'string' ? data : String(data.text);
};

test('an AI member seated on every node answers each room message exactly once, cluster-wide', async () => {
  const a = await startNode();
  const b = await startNode();
  const watcherA = await member(a.url, 'watcher-a');
  const watcherB = await member(b.url, 'watcher-b');
  const alice = await member(a.url, 'alice');
  const bob = await member(b.url, 'bob');
  const questions: string[] = [];
  const answered = (f: Frame): boolean => f.type === 'message' && f['from'] === 'assistant';
  const answers = (watcher: { frames: Inbox<Frame> }): number => watcher.frames.items.filter(answered).length;
  // One question at a time, from either node (the member refuses more than a few waiting questions).
  for (let i = 1; i <= 10; i++) {
    for (const [who, client] of [
      ['alice', alice],
      ['bob', bob],
    ] as const) {
      const question = `question ${i} of ${who}`;
      questions.push(`answer to ${who}: ${question}`);
      await client.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: question }));
      for (const watcher of [watcherA, watcherB])
        await watcher.frames.waitFor(() => answers(watcher) >= questions.length);
    }
  }
  // Nothing more is coming: both copies are idle, and a marker said on each node after that arrives after
  // anything either copy said before it.
  await Promise.all([a.ai.idle(), b.ai.idle()]);
  await a.rooms.room('lobby').broadcast('marker a');
  await b.rooms.room('lobby').broadcast('marker b');
  for (const watcher of [watcherA, watcherB]) {
    await watcher.frames.waitFor(() =>
      ['marker a', 'marker b'].every((m) => watcher.frames.items.some((f) => f['data'] === m)),
    );
    const texts = watcher.frames.items.filter(answered).map(textOf);
    expect(texts.length).toBe(20);
    expect([...texts].sort()).toEqual([...questions].sort());
  }
  // Seated on both nodes, it is one member: listed once in every join_ack, never announced again.
  const presence = watcherA.frames.items.filter(
    (f) => f.type === 'presence' && f['memberId'] === 'assistant',
  );
  expect(presence).toEqual([]);
}, 60_000);
