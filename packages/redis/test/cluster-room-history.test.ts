import type { Server as HttpServer } from 'node:http';
import { demoRuntime } from '@atmosphere/ai';
import { llmRoomMember, type RoomAnswer } from '@atmosphere/ai/rooms';
import { durable } from '@atmosphere/durable-sessions';
import { createRooms, type RoomManager, type VirtualMemberContext } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  type Inbox,
  recordingLogger,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test, vi } from 'vitest';
import { redisBackplane, redisClusterState } from '../src/index.ts';
import { connectRoomClient, joinRoomClient, type RoomFrame as Frame } from './helpers.ts';

/**
 * Room history shared by the nodes of a cluster: the backplane and the cluster state on one redis-server, the
 * stream log (where history is kept) on another, so that the log can fail while the nodes still hear each
 * other. Message ids come from the shared log: one sequence for the whole cluster, and a join on any node
 * replays what was said on every node.
 */
let bus: TestRedis;
let store: TestRedis;
const nodes: Atmosphere[] = [];
let clients: TestClient[] = [];
let run = 0;

beforeAll(async () => {
  // The log's Redis keeps its data across a kill (as the log's Redis must: see docs/durability.md).
  [bus, store] = await Promise.all([startTestRedis(), startTestRedis({ persistence: true })]);
});
afterAll(async () => {
  await Promise.all([bus?.stop(), store?.stop()]);
});
afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  clients = [];
  for (const node of nodes.splice(0)) await stopNode(node);
});

interface Node {
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  readonly url: string;
}

async function startNode(
  prefix: string,
  history = 50,
  logger: ReturnType<typeof recordingLogger> | undefined = undefined,
  maxMessageBytes: number | undefined = undefined,
  maxReplay: number | undefined = undefined,
): Promise<Node> {
  const atmosphere = await startTestAtmosphere({
    autoload: false,
    rateLimit: false,
    ...(logger === undefined ? {} : { logger }),
    providers: [
      redisBackplane({
        url: bus.url,
        channelPrefix: prefix,
        ...(maxMessageBytes ? { maxMessageBytes } : {}),
      }),
      redisClusterState({ url: bus.url, keyPrefix: `${prefix}state:` }),
      ...durable({ redis: store.url, prefix, kinds: ['stream-log'] }),
    ],
  });
  expect(atmosphere.log.shared).toBe(true);
  nodes.push(atmosphere);
  const rooms = createRooms(atmosphere, {
    path: '/rooms',
    history,
    ...(maxReplay === undefined ? {} : { maxReplay }),
  });
  return { atmosphere, rooms, url: atmosphere.url('/rooms') };
}

async function stopNode(atmosphere: Atmosphere): Promise<void> {
  const closing = atmosphere.close();
  (atmosphere.server as HttpServer).closeAllConnections();
  await closing;
}

async function connect(url: string): Promise<{ client: TestClient; frames: Inbox<Frame> }> {
  const joined = await connectRoomClient(url);
  clients.push(joined.client);
  return joined;
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

const messages = (frames: readonly Frame[]): Frame[] => frames.filter((f) => f.type === 'message');
const idsOf = (frames: readonly Frame[]): number[] => messages(frames).map((f) => f['id'] as number);
const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Says `marker` through `node`'s API and waits until `frames` has it: everything said before is in. */
async function settled(node: Node, room: string, frames: Inbox<Frame>, marker: string): Promise<void> {
  await node.rooms.room(room).broadcast(marker);
  await frames.waitFor((f) => f.type === 'message' && f['data'] === marker);
}

describe('room history across nodes (one shared log)', () => {
  test('ids are one sequence for the cluster, and a join with sinceId on either node replays what every node said, once, in id order', async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const alice = await join(a.url, 'lobby', 'alice');
    const bob = await join(b.url, 'lobby', 'bob');
    // Both speak at once, from both nodes: 20 messages.
    await Promise.all([
      ...range(1, 10).map((n) =>
        alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: `a${n}` })),
      ),
      ...range(1, 10).map((n) =>
        bob.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: `b${n}` })),
      ),
    ]);
    // Each gets the other's ten (never its own back).
    await alice.frames.waitFor(() => messages(alice.frames.items).length === 10);
    await bob.frames.waitFor(() => messages(bob.frames.items).length === 10);
    const said = [...idsOf(alice.frames.items), ...idsOf(bob.frames.items)].sort((x, y) => x - y);
    expect(said).toEqual(range(1, 20));

    // A late joiner on b gets all twenty (ten said on a), and one on a everything after 12 (some said on b).
    const lateB = await join(b.url, 'lobby', 'late-b', 0);
    const lateA = await join(a.url, 'lobby', 'late-a', 12);
    await settled(a, 'lobby', lateB.frames, 'marker');
    await lateA.frames.waitFor((f) => f['data'] === 'marker');
    expect(idsOf(lateB.frames.items)).toEqual(range(1, 21));
    expect(idsOf(lateA.frames.items)).toEqual(range(13, 21));
    // Replayed byte for byte: the data of each id is what its sender said.
    const byId = new Map<number, unknown>();
    for (const frame of [...messages(alice.frames.items), ...messages(bob.frames.items)])
      byId.set(frame['id'] as number, frame['data']);
    for (const frame of messages(lateB.frames.items).slice(0, 20))
      expect(frame['data']).toBe(byId.get(frame['id'] as number));
    // The API's history on each node holds every node's messages too.
    expect(
      b.rooms
        .room('lobby')
        .history()
        .map((m) => m.id),
    ).toEqual(range(1, 21));
    expect(
      a.rooms
        .room('lobby')
        .history()
        .map((m) => m.id),
    ).toEqual(range(1, 21));
  }, 60_000);

  test('the history outlives every node: new nodes replay it to a sinceId and number on after the last id', async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    for (let n = 1; n <= 6; n++) await (n % 2 === 0 ? a : b).rooms.room('lobby').broadcast({ n });
    for (const node of nodes.splice(0)) await stopNode(node);

    const c = await startNode(prefix);
    const d = await startNode(prefix);
    const late = await join(d.url, 'lobby', 'late', 2);
    expect((await c.rooms.room('lobby').broadcast({ n: 7 })).id).toBe(7);
    await late.frames.waitFor(() => messages(late.frames.items).length === 5);
    expect(messages(late.frames.items).map((f) => [f['id'], (f['data'] as { n: number }).n])).toEqual(
      range(3, 7).map((n) => [n, n]),
    );
  }, 60_000);

  test('an atmosphere.js connection on one node gets what is said on a node that has none', async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const alice = await join(a.url, 'lobby', 'alice');
    const legacy = await connect(b.url);
    await legacy.client.send(JSON.stringify({ type: 'join', room: 'lobby', member: { id: 'js', info: {} } }));
    await legacy.frames.waitFor((f) => f.type === 'join' && f['room'] === 'lobby');
    await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'from a' }));
    await legacy.frames.waitFor((f) => f['data'] === 'from a');
    await a.rooms.room('lobby').broadcast('from the server on a');
    await legacy.frames.waitFor((f) => f['data'] === 'from the server on a');
    await b.rooms.room('lobby').broadcast('from the server on b');
    const said = await legacy.frames.waitFor((f) => f['data'] === 'from the server on b');
    const broadcasts = legacy.frames.items.filter((f) => f.type === 'broadcast');
    // Each once, in its dialect, in order: the member is an object, the id the cluster's.
    expect(broadcasts).toEqual([
      { type: 'broadcast', room: 'lobby', data: 'from a', member: { id: 'alice' }, id: 1 },
      { type: 'broadcast', room: 'lobby', data: 'from the server on a', id: 2 },
      said,
    ]);
    expect(said['id']).toBe(3);
    expect(legacy.frames.items.some((f) => f.type === 'message')).toBe(false);
  }, 60_000);

  test("an atmosphere.js connection gets its own node's message once, when the node held it back to fill a gap before it", async () => {
    const prefix = `history${++run}:`;
    // a relays nothing over 300 bytes: b sees the jump when its own next message is positioned after it.
    const a = await startNode(prefix, 50, undefined, 300);
    const b = await startNode(prefix);
    const legacy = await connect(b.url);
    await legacy.client.send(JSON.stringify({ type: 'join', room: 'lobby', member: { id: 'js', info: {} } }));
    await legacy.frames.waitFor((f) => f.type === 'join' && f['room'] === 'lobby');
    await a.rooms.room('lobby').broadcast('small');
    await legacy.frames.waitFor((f) => f['data'] === 'small');
    const big = 'x'.repeat(400);
    await a.rooms.room('lobby').broadcast(big);
    await b.rooms.room('lobby').broadcast('from b');
    await b.rooms.room('lobby').broadcast('after');
    // A relay of a's after b's: on b it comes through the same path as any second copy of b's would, after it.
    await a.rooms.room('lobby').broadcast('last');
    await legacy.frames.waitFor((f) => f['data'] === 'last');
    expect(b.atmosphere.broadcasters.sequencerStats()).toMatchObject({ filled: 1 });
    // Each once. The dialect's frames of b's own messages leave b at once, so 'from b' may come before the
    // filled 'big' (ids say the order); our own dialect's clients get them in log order.
    const got = legacy.frames.items
      .filter((f) => f.type === 'broadcast')
      .map((f) => [f['id'], f['data'] === big ? 'big' : f['data']] as [number, unknown]);
    expect(got.sort((x, y) => x[0] - y[0])).toEqual([
      [1, 'small'],
      [2, 'big'],
      [3, 'from b'],
      [4, 'after'],
      [5, 'last'],
    ]);
  }, 60_000);

  test('a message the shared log refuses is sent to nobody, and its sender is told LOG_FAILED', async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const alice = await join(a.url, 'lobby', 'alice');
    const bob = await join(b.url, 'lobby', 'bob');
    await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'kept' }));
    await bob.frames.waitFor((f) => f['data'] === 'kept');
    await store.kill();
    try {
      await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'lost' }));
      const refused = await alice.frames.waitFor((f) => f.type === 'error', 30_000);
      expect(refused).toMatchObject({ type: 'error', room: 'lobby', code: 'LOG_FAILED' });
      await expect(a.rooms.room('lobby').broadcast('lost too')).rejects.toMatchObject({ code: 'LOG_FAILED' });
    } finally {
      await store.start();
    }
    // Until the log's connection is back, a message is refused (and its sender told): wait for it.
    await vi.waitFor(() => a.atmosphere.log.state('room-history:lobby'), { timeout: 30_000, interval: 50 });
    // Once the log is back, the room goes on: the next message is sent, and the refused ones never were.
    await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'after' }));
    await bob.frames.waitFor((f) => f['data'] === 'after', 30_000);
    expect(messages(bob.frames.items).map((f) => f['data'])).toEqual(['kept', 'after']);
  }, 90_000);

  test('a join with sinceId 0 on a room with 5 000 logged messages gets the newest maxReplay after a HISTORY_TRUNCATED frame; a broadcast sent meanwhile follows them at once', async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix, 50, undefined, undefined, 200);
    // 5 000 messages in the room's log (frames without id: the shared log's seq is their id).
    for (let batch = 0; batch < 10; batch++)
      await a.atmosphere.log.append(
        'room-history:lobby',
        range(batch * 500 + 1, batch * 500 + 500).map((n) => ({
          payload: JSON.stringify({ type: 'message', room: 'lobby', from: 'old', data: { n } }),
        })),
      );
    const alice = await join(a.url, 'lobby', 'alice');
    const bob = await join(a.url, 'lobby', 'bob');
    const late = await join(a.url, 'lobby', 'late', 0);
    // The ack went out; the replay is being read from the log, and the room's operations wait for it.
    await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'meanwhile' }));
    const live = await late.frames.waitFor((f) => f['data'] === 'meanwhile', 30_000);
    await bob.frames.waitFor((f) => f['data'] === 'meanwhile');
    const after = late.frames.items.slice(late.frames.items.indexOf(late.ack) + 1);
    // Said first, then the newest 200 (150 from the log, 50 from memory), then the broadcast: nothing else.
    expect(after[0]).toEqual({
      type: 'error',
      room: 'lobby',
      data: 'History truncated: messages 1 to 4800 are not replayed: a join replays at most the newest 200 messages (option maxReplay).',
      code: 'HISTORY_TRUNCATED',
      from: 1,
      resumeAt: 4801,
    });
    expect(after.slice(1, -1).map((f) => [f['id'], (f['data'] as { n: number }).n])).toEqual(
      range(4801, 5000).map((n) => [n, n]),
    );
    expect(after.at(-1)).toBe(live);
    expect(live).toMatchObject({ type: 'message', id: 5001, from: 'alice' });
    expect(after).toHaveLength(202);
  }, 60_000);

  test("an AI member's answer whose reply the shared log refuses is said to every connection, on every node (LOG_FAILED, its sessionId), and its outcome is an error", async () => {
    const prefix = `history${++run}:`;
    const a = await startNode(prefix);
    const b = await startNode(prefix);
    const answers: RoomAnswer[] = [];
    const asked: { frames?: Inbox<Frame> } = {};
    const ai = llmRoomMember({
      id: 'assistant',
      answers: 'all',
      runtime: demoRuntime({ delayMs: 0, answer: () => 'the answer' }),
      onAnswer: (answer) => answers.push(answer),
      interceptors: [
        {
          name: 'the-log-dies',
          // The answer streamed (its `complete` reached the asker, on the other node); its reply is said next.
          postProcess: async () => {
            await asked.frames?.waitFor((f) => f.type === 'complete' && f['from'] === 'assistant');
            await store.kill();
          },
        },
      ],
    });
    a.rooms.room('lobby').joinVirtual(ai);
    try {
      const watcher = await join(a.url, 'lobby', 'watcher');
      const alice = await join(b.url, 'lobby', 'alice');
      expect((alice.ack['members'] as { id: string }[]).map((m) => m.id)).toContain('assistant');
      asked.frames = alice.frames;
      await alice.client.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'the question' }));
      const told = await alice.frames.waitFor((f) => f.type === 'error', 30_000);
      const streamed = alice.frames.items.filter((f) => f['from'] === 'assistant' && 'sessionId' in f);
      const sessionId = streamed[0]?.['sessionId'];
      expect(streamed.filter((f) => f.type === 'streaming-text').map((f) => f['data'])).toEqual([
        'the ',
        'answer',
      ]);
      expect(told).toEqual({
        type: 'error',
        room: 'lobby',
        data: "The answer of assistant to alice could not be kept: it is not in the room's history (ask again).",
        code: 'LOG_FAILED',
        sessionId,
        memberId: 'assistant',
      });
      // The connections of the answering node are told too; nobody got a reply message.
      expect(await watcher.frames.waitFor((f) => f.type === 'error', 30_000)).toEqual(told);
      await vi.waitFor(() => expect(answers).toHaveLength(1), { timeout: 30_000 });
      expect(answers[0]).toMatchObject({
        status: 'error',
        text: 'the answer',
        sessionId,
        error: { code: 'LOG_FAILED' },
      });
      expect(answers[0]?.reply).toBeUndefined();
      for (const frames of [alice.frames, watcher.frames])
        expect(frames.items.some((f) => f.type === 'message' && f['from'] === 'assistant')).toBe(false);
    } finally {
      await store.start();
      await ai.close();
    }
    await vi.waitFor(() => a.atmosphere.log.state('room-history:lobby'), { timeout: 30_000, interval: 50 });
  }, 90_000);

  test("an error frame too long for other nodes is refused to its sender (MESSAGE_TOO_LARGE) after this node's connections got it; one that arrives from another node anyway is logged, not written", async () => {
    const prefix = `history${++run}:`;
    const logger = recordingLogger();
    const a = await startNode(prefix);
    const b = await startNode(prefix, 50, logger);
    const contexts: VirtualMemberContext[] = [];
    a.rooms.room('lobby').joinVirtual({
      id: 'notifier',
      onMessage: () => undefined,
      onJoin: (context) => contexts.push(context),
    });
    const here = await join(a.url, 'lobby', 'here');
    const there = await join(b.url, 'lobby', 'there');
    expect(contexts).toHaveLength(1);
    const long = 'x'.repeat(9_000);
    await expect(contexts[0]!.sendError('SOMETHING_FAILED', long)).rejects.toMatchObject({
      code: 'MESSAGE_TOO_LARGE',
      message: expect.stringMatching(/other nodes take at most 8192/),
    });
    expect(await here.frames.waitFor((f) => f.type === 'error')).toMatchObject({
      code: 'SOMETHING_FAILED',
      data: long,
      memberId: 'notifier',
    });
    // A short one reaches the other node's connection: it is the first error frame there.
    await contexts[0]!.sendError('SOMETHING_FAILED', 'short');
    expect(await there.frames.waitFor((f) => f.type === 'error')).toMatchObject({ data: 'short' });

    // A node that signals one anyway (straight through the cluster state): b logs it and writes nothing.
    const state = a.atmosphere.provider('cluster-state')!;
    await state.signal('room:lobby', {
      t: 'error',
      f: `{"type":"error","room":"lobby","data":"${long}","code":"FORGED"}`,
    });
    await vi.waitFor(() =>
      expect(
        logger.lines.filter((l) => l.level === 'warn' && l.message.includes('signalled an error frame')),
      ).toHaveLength(1),
    );
    await settled(b, 'lobby', there.frames, 'marker');
    expect(there.frames.items.filter((f) => f.type === 'error')).toHaveLength(1);
  }, 60_000);

  test('a log that lost the history of a room gives ids again: the node says so and drops what memory kept under them', async () => {
    const prefix = `history${++run}:`;
    const logger = recordingLogger();
    const a = await startNode(prefix, 50, logger);
    const lobby = a.rooms.room('lobby');
    for (let n = 1; n <= 3; n++) expect((await lobby.broadcast(`old ${n}`)).id).toBe(n);
    // The log's Redis loses the room's history (as one without persistence does when it restarts).
    const admin = new Redis(store.url);
    try {
      await admin.del(...(await admin.keys(`${prefix}*room-history*`)));
    } finally {
      admin.disconnect();
    }
    expect((await lobby.broadcast('new')).id).toBe(1);
    expect(lobby.history().map((m) => [m.id, m.data])).toEqual([[1, 'new']]);
    expect(
      logger.lines.filter((l) => l.level === 'error' && l.message.includes('gave id 1 again')),
    ).toHaveLength(1);
  }, 60_000);
});
