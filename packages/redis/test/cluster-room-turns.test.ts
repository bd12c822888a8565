import { llmRoomMember, type LlmRoomMember } from '@atmosphere/ai/rooms';
import { demoRuntime } from '@atmosphere/ai';
import { weatherTool } from '@atmosphere/ai/testing';
import { createRooms, type RoomManager } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  eventually,
  type Inbox,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterEach, beforeEach, expect, test } from 'vitest';
import { RedisClusterState, redisBackplane, redisClusterState } from '../src/index.ts';
import { connectRoomClient, redisCommand, type RoomFrame as Frame } from './helpers.ts';

// Turn control of an AI member seated on two nodes of a cluster (one redis-server): each answer runs on the node
// that claimed its question; a stop or steer sent by a member connected to the other node is routed to it
// through the cluster state, and the sender gets the answer's acknowledgement (the stopped `complete`, the
// `steer` event) or an `error` frame with a code when no node runs what it names.

/** The long answer each node's model streams, one word every 20 ms (about 8 s in all). */
const WORDS = Array.from({ length: 400 }, (_, i) => `w${i}`);
const FULL = WORDS.join(' ');

interface Node {
  readonly name: string;
  readonly atmosphere: Atmosphere;
  readonly rooms: RoomManager;
  readonly url: string;
  readonly ai: LlmRoomMember;
  /** Questions this node's copy of the member answered (its model was called). */
  readonly asked: string[];
  /** The cities its approval-gated `weather` tool ran for. */
  readonly ran: string[];
  /** Every answer it started (its question). */
  readonly started: string[];
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

async function startNode(name: string, leaseMs?: number): Promise<Node> {
  const atmosphere = await startTestAtmosphere({
    providers: [
      redisBackplane({ url: redis.url }),
      redisClusterState({ url: redis.url, ...(leaseMs === undefined ? {} : { leaseMs }) }),
    ],
  });
  const rooms = createRooms(atmosphere, { path: '/rooms' });
  const asked: string[] = [];
  const ran: string[] = [];
  const started: string[] = [];
  const weather = weatherTool({ name: 'weather', calls: ran, requiresApproval: true });
  const ai = llmRoomMember({
    id: 'assistant',
    answers: 'all',
    tools: [weather],
    // Every answer this copy starts, tool call or not.
    interceptors: [{ name: 'started', preProcess: (request) => void started.push(request.message) }],
    role: ({ member }) =>
      member.id.startsWith('guest-') ? 'viewer' : member.id.startsWith('steerer-') ? 'steerer' : 'owner',
    runtime: demoRuntime({
      delayMs: 20,
      answer: (context) => {
        asked.push(context.message);
        return FULL;
      },
    }),
  });
  rooms.room('lobby').joinVirtual(ai);
  const node = { name, atmosphere, rooms, url: atmosphere.url('/rooms'), ai, asked, ran, started };
  nodes.push(node);
  return node;
}

interface Member {
  readonly client: TestClient;
  readonly frames: Inbox<Frame>;
  send(frame: Record<string, unknown>): Promise<unknown>;
}

async function member(node: Node, memberId: string): Promise<Member> {
  const { client, frames } = await connectRoomClient(node.url);
  clients.push(client);
  await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId }));
  await frames.waitFor((f) => f.type === 'ai-role');
  return { client, frames, send: (frame) => client.send(JSON.stringify({ room: 'lobby', ...frame })) };
}

const fromAssistant = (f: Frame): boolean => f['from'] === 'assistant';
const isToken = (f: Frame): boolean => f.type === 'streaming-text' && fromAssistant(f);
const errorsOf = (m: Member): Frame[] => m.frames.items.filter((f) => f.type === 'error');

/**
 * A question from `asker`, answered on one node: resolves, once a few tokens reached every member, with the
 * answer's session and the node that runs it (whose model was called) and the other one.
 */
async function ask(
  asker: Member,
  members: readonly Member[],
  question: string,
): Promise<{ sessionId: string; owner: Node; other: Node }> {
  const before = new Map(members.map((m) => [m, m.frames.items.filter(isToken).length]));
  await asker.send({ type: 'broadcast', data: question });
  const first = await asker.frames.waitFor(
    (f) =>
      fromAssistant(f) && f['key'] === 'room.replyTo' && (f['value'] as { from?: string }).from !== undefined,
  );
  for (const m of members)
    await eventually(
      () => m.frames.items.filter(isToken).length >= before.get(m)! + 3,
      'three tokens at every member',
    );
  const owners = nodes.filter((n) => n.asked.some((q) => q.endsWith(question)));
  expect(owners).toHaveLength(1);
  const owner = owners[0]!;
  return { sessionId: first['sessionId'] as string, owner, other: nodes.find((n) => n !== owner)! };
}

test('a member on the other node stops the answer: the node that runs it aborts it, everyone sees it end "stopped"', async () => {
  const a = await startNode('a');
  const b = await startNode('b');
  const onA = { alice: await member(a, 'alice'), carol: await member(a, 'carol') };
  const onB = { bob: await member(b, 'bob'), dave: await member(b, 'dave') };
  const everyone = [onA.alice, onA.carol, onB.bob, onB.dave];
  const { sessionId, owner } = await ask(onA.alice, everyone, 'tell me a long story');
  // The stopper is connected to the node that does not run the answer.
  const stopper = owner === a ? onB.bob : onA.alice;
  await stopper.send({ type: 'stop', memberId: 'assistant', sessionId });
  for (const m of everyone) {
    const end = await m.frames.waitFor((f) => fromAssistant(f) && f.type === 'complete');
    expect(end).toMatchObject({ sessionId, reason: 'stopped' });
  }
  const said = await stopper.frames.waitFor((f) => f.type === 'message' && fromAssistant(f));
  const text = (said['data'] as { text: string }).text;
  expect(text.length).toBeGreaterThan(0);
  expect(FULL.startsWith(text)).toBe(true);
  // Stopped well before the end of the answer (400 words at 20 ms each).
  expect(text.split(' ').length).toBeLessThan(WORDS.length / 2);
  await Promise.all(nodes.map((n) => n.ai.idle()));
  for (const m of everyone) expect(errorsOf(m)).toEqual([]);
}, 30_000);

test('a member on the other node steers the answer: its steer reaches the run, acknowledged to it and to the room', async () => {
  const a = await startNode('a');
  const b = await startNode('b');
  const alice = await member(a, 'alice');
  const bob = await member(b, 'bob');
  const { sessionId, owner } = await ask(alice, [alice, bob], 'tell me a long story');
  const steerer = owner === a ? bob : alice;
  const name = steerer === bob ? 'bob' : 'alice';
  await steerer.send({ type: 'steer', memberId: 'assistant', steerId: 'g-1', text: 'Shorter.', sessionId });
  for (const m of [alice, bob]) {
    const ack = await m.frames.waitFor((f) => fromAssistant(f) && f['event'] === 'steer');
    expect(ack).toMatchObject({
      sessionId,
      data: { steerId: 'g-1', status: 'accepted', text: `${name}: Shorter.` },
    });
  }
  await steerer.send({ type: 'stop', memberId: 'assistant', sessionId });
  await steerer.frames.waitFor((f) => fromAssistant(f) && f.type === 'complete');
  for (const m of [alice, bob]) expect(errorsOf(m)).toEqual([]);
}, 30_000);

test('no node runs it: UNKNOWN_RUN; an answer that ended on the other node: nothing; a viewer: FORBIDDEN on its own node', async () => {
  const a = await startNode('a');
  const b = await startNode('b');
  const alice = await member(a, 'alice');
  const bob = await member(b, 'bob');
  const guest = await member(b, 'guest-1');
  expect(guest.frames.items.find((f) => f.type === 'ai-role')).toMatchObject({ role: 'viewer' });

  // Nothing runs anywhere: a stop or steer for an answer no node knows is refused with UNKNOWN_RUN, once.
  await bob.send({ type: 'stop', memberId: 'assistant', sessionId: 'no-such-answer' });
  expect(await bob.frames.waitFor((f) => f.type === 'error')).toEqual({
    type: 'error',
    room: 'lobby',
    code: 'UNKNOWN_RUN',
    data: 'No server of the cluster runs the answer no-such-answer of assistant in room lobby; nothing to stop.',
  });
  await bob.send({ type: 'steer', memberId: 'assistant', steerId: 's1', text: 'Hm.' });
  expect(await bob.frames.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'UNKNOWN_RUN' });
  await bob.send({ type: 'stop', memberId: 'assistant' });
  expect(await bob.frames.waitFor((f) => f.type === 'error')).toMatchObject({
    code: 'UNKNOWN_RUN',
    data: 'assistant is not answering in room lobby; nothing to stop.',
  });

  // A viewer on either node may not stop the running answer: refused where it is connected, nothing changes.
  const { sessionId, owner } = await ask(alice, [alice, bob, guest], 'tell me a long story');
  await guest.send({ type: 'stop', memberId: 'assistant', sessionId });
  expect(await guest.frames.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN' });

  // Stopped by its owner's side, then a late stop from the other node for the same answer crossed its end.
  const local = owner === a ? alice : bob;
  const remote = owner === a ? bob : alice;
  await local.send({ type: 'stop', memberId: 'assistant', sessionId });
  await remote.frames.waitFor((f) => fromAssistant(f) && f.type === 'complete');
  await remote.frames.waitFor((f) => f.type === 'message' && fromAssistant(f));
  const errorsBefore = errorsOf(remote).length;
  await remote.send({ type: 'stop', memberId: 'assistant', sessionId });
  // A malformed frame after it is the fence: its error is the only new one.
  await remote.send({ type: 'steer', memberId: 'assistant', steerId: 'no spaces', text: 'x' });
  expect(await remote.frames.waitFor((f) => f.type === 'error')).toMatchObject({
    data: 'Invalid steerId: expected 1-64 characters of A-Z a-z 0-9 _ -',
  });
  expect(errorsOf(remote)).toHaveLength(errorsBefore + 1);
  // The guest's refused stop did not end the answer: it ended once, stopped by its owner's side.
  expect(guest.frames.items.filter((f) => fromAssistant(f) && f.type === 'complete')).toHaveLength(1);
}, 30_000);

test('an approval answered on the other node reaches the run; once only; a steerer there is refused', async () => {
  const a = await startNode('a');
  const b = await startNode('b');
  const alice = await member(a, 'alice');
  const bob = await member(b, 'bob');
  const steererA = await member(a, 'steerer-a');
  const steererB = await member(b, 'steerer-b');
  await alice.send({ type: 'broadcast', data: 'weather in Paris' });
  const asked = await alice.frames.waitFor((f) => fromAssistant(f) && f['event'] === 'approval-required');
  const approvalId = (asked['data'] as { approvalId: string }).approvalId;
  const owners = nodes.filter((n) => n.started.length > 0);
  expect(owners).toHaveLength(1);
  const owner = owners[0]!;
  const [near, far] = owner === a ? [alice, bob] : [bob, alice];
  const farSteerer = owner === a ? steererB : steererA;
  const answer = { type: 'approval', memberId: 'assistant', approvalId };
  // A steerer on the other node may not approve: refused where it is connected.
  await farSteerer.send({ ...answer, decision: 'approve' });
  expect(await farSteerer.frames.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'FORBIDDEN' });
  // An owner on the other node approves: the tool runs on the node that runs the answer.
  await far.send({ ...answer, decision: 'approve' });
  for (const m of [alice, bob]) {
    const answered = await m.frames.waitFor((f) => fromAssistant(f) && f['event'] === 'approval-answered');
    expect(answered['data']).toMatchObject({ approvalId, approved: true });
    await m.frames.waitFor((f) => f.type === 'message' && fromAssistant(f));
  }
  expect(owner.ran).toEqual(['Paris']);
  expect(nodes.find((n) => n !== owner)!.ran).toEqual([]);
  // Answered once: a late answer from either node is refused with UNKNOWN_APPROVAL and changes nothing.
  for (const late of [near, far]) {
    await late.send({ ...answer, decision: 'deny' });
    expect(await late.frames.waitFor((f) => f.type === 'error')).toMatchObject({
      code: 'UNKNOWN_APPROVAL',
      data: `The approval ${approvalId} of assistant was answered already or expired (a timeout denies it).`,
    });
  }
  // An approval id no node issued.
  await far.send({ ...answer, approvalId: 'nobody-asked', decision: 'approve' });
  expect(await far.frames.waitFor((f) => f.type === 'error')).toMatchObject({
    code: 'UNKNOWN_APPROVAL',
    data: 'No server of the cluster has a pending approval nobody-asked of assistant in room lobby.',
  });
  expect(owner.ran).toEqual(['Paris']);
  expect(
    alice.frames.items.filter((f) => fromAssistant(f) && f['event'] === 'approval-answered'),
  ).toHaveLength(1);
}, 30_000);

test('the node running an answer dies (its lease expires): another node tells every member there that the answer was interrupted, once', async () => {
  await startNode('a', 1_000);
  await startNode('b', 1_000);
  const [onA, onB] = [await member(nodes[0]!, 'alice'), await member(nodes[1]!, 'bob')];
  const { sessionId, owner, other } = await ask(onA, [onA, onB], 'tell me everything');
  const watcher = owner === nodes[0] ? onB : onA;
  // The owner stops renewing its lease, as a killed node does.
  const state = owner.atmosphere.provider('cluster-state');
  expect(state).toBeInstanceOf(RedisClusterState);
  (state as RedisClusterState).abandon();
  const interrupted = await watcher.frames.waitFor(
    (f) => f.type === 'error' && f['code'] === 'INTERRUPTED',
    10_000,
  );
  expect(interrupted).toMatchObject({ room: 'lobby', sessionId, memberId: 'assistant' });
  // Said once, by one node (the claim), however many nodes saw the lease expire.
  expect(errorsOf(watcher).filter((f) => f['code'] === 'INTERRUPTED')).toHaveLength(1);
  expect(other.asked.some((q) => q.endsWith('tell me everything'))).toBe(false);
}, 30_000);

test('a node that lost its lease while it answers (it did not die) stops the answer too, once another node said it was interrupted', async () => {
  await startNode('a', 1_000);
  await startNode('b', 1_000);
  const [onA, onB] = [await member(nodes[0]!, 'alice'), await member(nodes[1]!, 'bob')];
  const { sessionId, owner } = await ask(onA, [onA, onB], 'tell me everything, slowly');
  const watcher = owner === nodes[0] ? onB : onA;
  // The owner's lease is gone as if it had hung past it (its key removed, its epoch taken): it still runs, and
  // still hears the cluster's changes.
  const nodeId = owner.atmosphere.provider('cluster-state')!.nodeId;
  await redisCommand(redis.port, `DEL atmosphere:cluster:lease:${nodeId}`);
  await redisCommand(redis.port, `HSET atmosphere:cluster:nodes ${nodeId} 0`);
  await watcher.frames.waitFor((f) => f.type === 'error' && f['code'] === 'INTERRUPTED', 10_000);
  // The owner ends its answer (an error frame of the answer itself, before or after the room's INTERRUPTED)
  // instead of streaming it to its end and saying its reply.
  await eventually(
    () =>
      watcher.frames.items.some(
        (f) => fromAssistant(f) && f.type === 'error' && f['sessionId'] === sessionId,
      ),
    "the answer's own end",
    10_000,
  );
  const tokens = watcher.frames.items.filter((f) => isToken(f) && f['sessionId'] === sessionId).length;
  expect(tokens).toBeLessThan(WORDS.length);
  expect(
    watcher.frames.items.some(
      (f) =>
        f.type === 'message' &&
        fromAssistant(f) &&
        (f['data'] as { sessionId?: string })?.sessionId === sessionId,
    ),
  ).toBe(false);
}, 30_000);
