import { aiEndpoint, openAiRuntime } from '@atmosphere/ai';
import {
  type AiTestClient,
  answerOf,
  connectAiClient,
  openAiTranscript,
  type ReplayServer,
  startReplayServer,
  weatherTool,
  wrapAiClient,
} from '@atmosphere/ai/testing';
import { durable } from '@atmosphere/durable-sessions';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { Atmosphere, AtmosphereResource, Logger } from '@atmosphere/runtime';
import type { Provider, ProviderContext, StreamLog } from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  eventually,
  recordingLogger,
  startTestAtmosphere,
  startTestRedis,
  type TestRedis,
  type TestTransport,
  watchedLog,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { RedisClusterState, redisBackplane, redisClusterState } from '../src/index.ts';

/**
 * AI runs across nodes (DURABILITY.md §4): a client that comes back to another node than the one producing its
 * answer follows the answer there — exactly the frames it missed, then the rest as the producer writes them —
 * and the other node never takes a live run for orphaned. When the producer dies (its lease expires), one node
 * applies the interrupted-run policy. Two nodes on a real redis-server (backplane, shared log, cluster state),
 * an OpenAI-compatible runtime against a replay server, real clients.
 */
const CHUNKS = Array.from({ length: 30 }, (_, i) => `t${i} `);
const LEASE_MS = 1_000;

let redis: TestRedis;
let replay: ReplayServer;
let nodes: Atmosphere[] = [];
let clients: AiTestClient[] = [];
let run = 0;
/** The cities the approval-gated tool ran for (on whichever node). */
let weatherCalls: string[] = [];

beforeAll(async () => {
  [redis, replay] = await Promise.all([startTestRedis(), startReplayServer()]);
});

afterEach(async () => {
  replay.release();
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.close()));
  clients = [];
  nodes = [];
  weatherCalls = [];
});

afterAll(async () => {
  await Promise.all([redis.stop(), replay.close()]);
});

/**
 * The node's shared log on Redis behind a wrapper that notes when each read of a run's frames
 * (`ai-run:<runId>`) is issued.
 */
function countedLog(prefix: string, reads: number[]): Provider {
  const log = durable({ redis: redis.url, prefix, kinds: ['stream-log'] }).find((p) => p.name === 'redis')!;
  return {
    ...log,
    async create(context: ProviderContext) {
      const inner = (await log.create(context)) as StreamLog;
      return watchedLog(inner, {
        read: (stream) => {
          if (stream.startsWith('ai-run:')) reads.push(performance.now());
        },
      });
    },
  };
}

/** How a node is set up besides its policy. */
interface NodeOptions {
  /** Where the times of its reads of runs' frames go (its log wrapped, see `countedLog`). */
  readonly reads?: number[];
  /** It keeps durable sessions (a session store on the same Redis): connections have session tokens. */
  readonly sessions?: boolean;
  /** No `role` hook: the endpoint's default roles (the asker's session owns its run). */
  readonly defaultRoles?: boolean;
  /** Where the node logs (silent by default). */
  readonly logger?: Logger;
}

async function node(
  policy: 'close' | 'continue' = 'close',
  { reads, sessions = false, defaultRoles = false, logger }: NodeOptions = {},
): Promise<Atmosphere> {
  const prefix = `ai-runs${run}:`;
  const atmosphere = await startTestAtmosphere({
    ...(logger === undefined ? {} : { logger }),
    autoload: false,
    rateLimit: false,
    providers: [
      redisBackplane({ url: redis.url, channelPrefix: prefix }),
      ...(reads === undefined
        ? durable({ redis: redis.url, prefix, kinds: ['stream-log'] })
        : [countedLog(prefix, reads)]),
      ...(sessions ? durable({ redis: redis.url, prefix, kinds: ['session-store'] }) : []),
      redisClusterState({ url: redis.url, keyPrefix: `${prefix}cluster:`, leaseMs: LEASE_MS }),
    ],
  });
  nodes.push(atmosphere);
  aiEndpoint(atmosphere, {
    path: '/ai',
    runtime: openAiRuntime({
      env: {},
      apiKey: 'sk-test-cluster-0123456789',
      model: 'gpt-4o-mini',
      baseUrl: replay.baseUrl,
      retry: { maxRetries: 0 },
    }),
    interruptedRuns: { policy },
    // A connection that asks to watch only (`X-Watch: 1`) is a viewer, on whichever node it follows the run.
    ...(defaultRoles
      ? {}
      : {
          role: ({ resource }: { resource: AtmosphereResource }) =>
            resource.request.param('x-watch') === '1' ? 'viewer' : 'owner',
        }),
    tools: [weatherTool({ calls: weatherCalls, requiresApproval: true })],
  });
  return atmosphere;
}

async function connect(at: Atmosphere, transport: TestTransport, query: Record<string, string> = {}) {
  const client = await connectAiClient(at.url('/ai'), transport, { query });
  clients.push(client);
  return client;
}

/** The session token the connection was given (its first frame), when the node keeps sessions. */
async function tokenOf(client: AiTestClient): Promise<string> {
  const frame = await client.client.messages.waitFor((m) => m.startsWith('{"type":"atmosphere-session"'));
  return (JSON.parse(frame) as { token: string }).token;
}

/** Asks on `a`, waits for the first tokens (the provider pauses after them), and leaves: run id and last seq. */
async function startOn(
  a: Atmosphere,
  transport: TestTransport,
  query: Record<string, string> = {},
): Promise<{ runId: string; lastSeq: number; text: string; token?: string }> {
  replay.enqueue({
    kind: 'sse',
    body: openAiTranscript({ text: CHUNKS, usage: { prompt: 5, completion: CHUNKS.length } }),
    pauseAfter: 8,
  });
  // The asker loses its connection (a cut, not a deliberate leave: its run goes on).
  const raw = await connectTestClient(a.url('/ai'), transport, { received: 0, query });
  const asker = wrapAiClient(raw);
  clients.push(asker);
  const token = query[AtmosphereHeaders.sessionToken] === undefined ? undefined : await tokenOf(asker);
  await asker.prompt('Count for me');
  await eventually(
    () => asker.frames().filter((frame) => frame.type === 'streaming-text').length >= 5,
    'the first tokens on a',
    10_000,
  );
  const answer = answerOf(asker.frames(), asker.frames()[0]!.sessionId);
  raw.cut();
  // It says it has all but its last two frames: the node it comes back to has something to send at once.
  const lastSeq = Math.max(...answer.frames.map((frame) => frame.seq)) - 2;
  const text = answer.frames
    .filter((frame) => frame.seq <= lastSeq)
    .map((frame) => (frame.type === 'streaming-text' ? frame.data : ''))
    .join('');
  return { runId: answer.runId!, lastSeq, text, ...(token === undefined ? {} : { token }) };
}

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('a client that comes back to another node follows the answer there: what it missed, then the rest, once, in order; the run is not taken for orphaned', async () => {
    run++;
    const a = await node();
    const b = await node();
    const requestsBefore = replay.requests.items.length;
    const { runId, lastSeq, text } = await startOn(a, transport);
    const back = await connect(b, transport, {
      'X-Atmosphere-Run-Id': runId,
      'X-Atmosphere-Last-Seq': String(lastSeq),
    });
    // b follows while a holds the run (paused at the provider): the two frames it missed come from the log,
    // and nothing ends the run meanwhile (no INTERRUPTED, no second model call).
    await eventually(() => back.frames().length >= 2, 'the missed frames from b', 10_000);
    replay.release();
    const answer = await back.answer(undefined, 15_000);
    expect(answer.end).toMatchObject({ type: 'complete' });
    const seqs = answer.frames.map((frame) => frame.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeq + 1 + i));
    expect(text + answer.text).toBe(CHUNKS.join(''));
    expect(replay.requests.items.length - requestsBefore).toBe(1);
  }, 30_000);
});

test('when the producing node is gone (its lease expired), one node ends the run INTERRUPTED for the client that followed it', async () => {
  run++;
  const a = await node();
  const b = await node();
  const { runId, lastSeq } = await startOn(a, 'websocket');
  const back = await connect(b, 'websocket', {
    'X-Atmosphere-Run-Id': runId,
    'X-Atmosphere-Last-Seq': String(lastSeq),
  });
  // a stops renewing its lease, as a killed node does (its run stays paused at the provider).
  const state = a.provider('cluster-state');
  expect(state).toBeInstanceOf(RedisClusterState);
  (state as RedisClusterState).abandon();
  const answer = await back.answer(undefined, 15_000);
  expect(answer.end).toMatchObject({ type: 'error', code: 'INTERRUPTED' });
  const seqs = answer.frames.map((frame) => frame.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeq + 1 + i));
}, 30_000);

test('with policy continue, when the producing node is gone one node continues the answer, once: followers on two other nodes get the same frames, none twice', async () => {
  run++;
  const a = await node('continue');
  const b = await node('continue');
  const c = await node('continue');
  const { runId, lastSeq } = await startOn(a, 'websocket');
  const query = { 'X-Atmosphere-Run-Id': runId, 'X-Atmosphere-Last-Seq': String(lastSeq) };
  const onB = await connect(b, 'websocket', query);
  const onC = await connect(c, 'websocket', query);
  await eventually(() => onB.frames().length >= 2 && onC.frames().length >= 2, 'both followers caught up');
  // The model's continuation, for whichever node continues.
  replay.enqueue({
    kind: 'sse',
    body: openAiTranscript({ text: ['and ', 'done.'], usage: { prompt: 9, completion: 2 } }),
  });
  const requestsBefore = replay.requests.items.length;
  (a.provider('cluster-state') as RedisClusterState).abandon();
  const [fromB, fromC] = await Promise.all([onB.answer(undefined, 15_000), onC.answer(undefined, 15_000)]);
  expect(fromB.end).toMatchObject({ type: 'complete' });
  expect(fromB.text.endsWith('and done.')).toBe(true);
  // One node continued (the claim): one model call, and both followers got its frames, each once, in order.
  expect(replay.requests.items.length - requestsBefore).toBe(1);
  const seqs = fromB.frames.map((frame) => frame.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => lastSeq + 1 + i));
  expect(fromC.frames.map((frame) => frame.seq)).toEqual(seqs);
  expect(fromC.text).toBe(fromB.text);
}, 30_000);

test('a producer whose lease expired while it still answers is fenced off once another node continued the run: none of its later frames reaches the run, and it stops', async () => {
  run++;
  const logs = recordingLogger();
  const a = await node('continue', { logger: logs });
  const b = await node('continue');
  const { runId, lastSeq, text } = await startOn(a, 'websocket');
  const onB = await connect(b, 'websocket', {
    'X-Atmosphere-Run-Id': runId,
    'X-Atmosphere-Last-Seq': String(lastSeq),
  });
  await eventually(() => onB.frames().length >= 2, 'the follower caught up');
  replay.enqueue({
    kind: 'sse',
    body: openAiTranscript({ text: ['and ', 'done.'], usage: { prompt: 9, completion: 2 } }),
  });
  // a loses its lease (it stops renewing, as a node hung past its lease does) but goes on running: its answer
  // is still paused at the provider. b takes the run over and continues it.
  (a.provider('cluster-state') as RedisClusterState).abandon();
  const continued = await onB.answer(undefined, 15_000);
  expect(continued.end).toMatchObject({ type: 'complete' });
  expect(continued.text.endsWith('and done.')).toBe(true);
  const lastOfB = Math.max(...continued.frames.map((frame) => frame.seq));
  // Now a's model goes on: its next frames are refused by the log, and a stops producing the run.
  replay.release();
  await eventually(
    () =>
      logs.lines.some(
        (line) => line.level === 'warn' && line.message.includes('another node took the run over'),
      ),
    'a told it was fenced off',
    10_000,
  );
  // The run in the shared log is a's frames up to the takeover, then b's continuation: nothing after b's end.
  const read = await b.log.read(`ai-run:${runId}`, 0);
  const frames = read!.records.map(
    (record) => JSON.parse(record.payload as string) as { type: string; seq: number; data?: unknown },
  );
  expect(frames.map((frame) => frame.seq)).toEqual(Array.from({ length: lastOfB }, (_, i) => i + 1));
  expect(frames.filter((frame) => frame.type === 'complete' || frame.type === 'error')).toHaveLength(1);
  const all = frames
    .filter((frame) => frame.type === 'streaming-text')
    .map((frame) => frame.data as string)
    .join('');
  expect(all).toBe(text + continued.text);
}, 30_000);

describe('stop, steer and approvals of a followed run reach the node that produces it', () => {
  async function follow(transport: TestTransport) {
    run++;
    const a = await node();
    const b = await node();
    const started = await startOn(a, transport);
    const back = await connect(b, transport, {
      'X-Atmosphere-Run-Id': started.runId,
      'X-Atmosphere-Last-Seq': String(started.lastSeq),
    });
    return { ...started, back };
  }

  test.each(['websocket', 'long-polling'] as const)(
    "over %s: a stop sent on the follower's node stops the answer on the producing node",
    async (transport) => {
      const { runId, back } = await follow(transport);
      // Its role, decided on its node: owner (the asker had no session).
      expect(await back.role(runId)).toBe('owner');
      await back.stop(runId);
      const answer = await back.answer(undefined, 15_000);
      expect(answer.end).toMatchObject({ type: 'complete', reason: 'stopped' });
    },
    30_000,
  );

  test('a viewer following on the other node is refused a stop there, and the answer goes on', async () => {
    run++;
    const a = await node();
    const b = await node();
    const { runId, lastSeq } = await startOn(a, 'websocket');
    const watcher = await connectAiClient(b.url('/ai'), 'websocket', {
      query: { 'X-Atmosphere-Run-Id': runId, 'X-Atmosphere-Last-Seq': String(lastSeq) },
      headers: { 'X-Watch': '1' },
    });
    clients.push(watcher);
    expect(await watcher.role(runId)).toBe('viewer');
    await watcher.stop(runId);
    await watcher.waitFor((frame) => frame.type === 'error' && frame.code === 'FORBIDDEN', 10_000);
    replay.release();
    const answer = await watcher.answer(undefined, 15_000);
    expect(answer.end).toMatchObject({ type: 'complete' });
    expect(answer.end).not.toMatchObject({ reason: 'stopped' });
  }, 30_000);

  test("a steer sent on the follower's node is accepted by the producing node (its event comes back in the run)", async () => {
    const { runId, back } = await follow('websocket');
    expect(await back.role(runId)).toBe('owner');
    await back.steer(runId, 'steer-1', 'Answer in French');
    await back.waitFor(
      (frame) =>
        frame.type === 'event' &&
        frame.event === 'steer' &&
        JSON.stringify(frame.data).includes('steer-1') &&
        JSON.stringify(frame.data).includes('accepted'),
      10_000,
    );
  }, 30_000);

  test("an approval answered on the follower's node reaches the run on the producing node, once; a second answer is refused", async () => {
    run++;
    const a = await node();
    const b = await node();
    replay.enqueue({
      kind: 'sse',
      body: openAiTranscript({
        toolCalls: [{ id: 'call_1', name: 'get_weather', arguments: ['{"city":', '"Montreal"}'] }],
        usage: { prompt: 5, completion: 3 },
      }),
    });
    replay.enqueue({
      kind: 'sse',
      body: openAiTranscript({ text: ['It is ', '21 degrees.'], usage: { prompt: 9, completion: 4 } }),
    });
    const raw = await connectTestClient(a.url('/ai'), 'websocket', { received: 0 });
    const asker = wrapAiClient(raw);
    clients.push(asker);
    await asker.prompt('Weather in Montreal?');
    const asked = await asker.waitFor(
      (frame) => frame.type === 'event' && frame.event === 'approval-required',
    );
    const runId = answerOf(asker.frames(), asked.sessionId).runId!;
    raw.cut();
    const back = await connect(b, 'websocket', {
      'X-Atmosphere-Run-Id': runId,
      'X-Atmosphere-Last-Seq': '0',
    });
    const request = (await back.waitFor(
      (frame) => frame.type === 'event' && frame.event === 'approval-required',
      10_000,
    )) as { data: { approvalId: string } };
    const approvalId = request.data.approvalId;
    await back.approve(approvalId);
    const answer = await back.answer(undefined, 15_000);
    expect(answer.end).toMatchObject({ type: 'complete' });
    expect(answer.text).toBe('It is 21 degrees.');
    expect(weatherCalls).toEqual(['Montreal']);
    expect(answer.events('approval-answered')).toMatchObject([{ approvalId, approved: true }]);
    // Answered already: the producing node says so, back through the cluster.
    await back.approve(approvalId);
    expect(
      await back.waitFor((frame) => frame.type === 'error' && frame.code === 'UNKNOWN_APPROVAL', 10_000),
    ).toBeDefined();
    expect(weatherCalls).toEqual(['Montreal']);
  }, 30_000);
});

test('followers of one run on one node share one poll of the log: the reads per poll interval do not grow with their number; each gets every frame once, in order, from its own cursor, with its own role', async () => {
  run++;
  const POLL_MS = 100;
  const FOLLOWERS = 20;
  const a = await node();
  const reads: number[] = [];
  const b = await node('close', { reads });
  const { runId, lastSeq, text } = await startOn(a, 'websocket');
  const followers: { client: AiTestClient; from: number; watch: boolean }[] = [];
  for (let i = 0; i < FOLLOWERS; i++) {
    // Every other one watches only (a viewer); the first half say they have up to lastSeq, the others less.
    const from = i < FOLLOWERS / 2 ? lastSeq : lastSeq - 3;
    const watch = i % 2 === 1;
    const client = await connectAiClient(b.url('/ai'), 'websocket', {
      query: { 'X-Atmosphere-Run-Id': runId, 'X-Atmosphere-Last-Seq': String(from) },
      ...(watch ? { headers: { 'X-Watch': '1' } } : {}),
    });
    clients.push(client);
    followers.push({ client, from, watch });
  }
  for (const { client, watch } of followers)
    expect(await client.role(runId, 10_000)).toBe(watch ? 'viewer' : 'owner');
  await eventually(
    () => followers.every(({ client, from }) => client.frames().length >= lastSeq + 2 - from),
    'every follower caught up',
    10_000,
  );
  // While the producer waits (paused at the provider), b polls: count its reads over 10 poll intervals.
  const start = reads.length;
  await eventually(
    () => reads.length > start && reads.at(-1)! - reads[start]! >= 10 * POLL_MS,
    'ten poll intervals of reads',
    10_000,
  );
  const window = reads.slice(start);
  const intervals = (window.at(-1)! - window[0]!) / POLL_MS;
  // One loop for the run: at most one read per interval (and the first); one per follower would be 20.
  expect(window.length).toBeLessThanOrEqual(Math.ceil(intervals) + 1);
  replay.release();
  const answers = await Promise.all(followers.map(({ client }) => client.answer(undefined, 15_000)));
  for (const [i, answer] of answers.entries()) {
    const { from } = followers[i]!;
    expect(answer.end).toMatchObject({ type: 'complete' });
    const seqs = answer.frames.map((frame) => frame.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, k) => from + 1 + k));
  }
  const full = answers[0]!;
  expect(text + full.text).toBe(CHUNKS.join(''));
  for (const answer of answers.slice(1, FOLLOWERS / 2)) expect(answer.text).toBe(full.text);
  for (const answer of answers.slice(FOLLOWERS / 2)) expect(answer.text.endsWith(full.text)).toBe(true);
}, 30_000);

/**
 * The default roles of a followed run come from its owner as the shared log records it
 * (`ai-run-meta:<runId>`). When that record is gone (a failed append, a trim, a delete), nobody is known to own
 * the run: a follower on another node is a viewer, its stop is refused `FORBIDDEN` and the answer goes on.
 */
describe("without a role hook, a follower's role on another node comes from the run's owner in the log", () => {
  async function follow(b: Atmosphere, runId: string, token?: string): Promise<AiTestClient> {
    return connect(b, 'websocket', {
      [AtmosphereHeaders.runId]: runId,
      [AtmosphereHeaders.lastSeq]: '0',
      ...(token === undefined ? {} : { [AtmosphereHeaders.sessionToken]: token }),
    });
  }

  /** The follower's stop is refused `FORBIDDEN`; the answer then completes unstopped. */
  async function refusedStop(client: AiTestClient, runId: string): Promise<void> {
    await client.stop(runId);
    await client.waitFor((frame) => frame.type === 'error' && frame.code === 'FORBIDDEN', 10_000);
    replay.release();
    const answer = await client.answer(undefined, 15_000);
    expect(answer.end).toMatchObject({ type: 'complete' });
    expect(answer.end).not.toMatchObject({ reason: 'stopped' });
    expect(answer.text).toBe(CHUNKS.join(''));
  }

  async function nodes(sessions: boolean): Promise<[Atmosphere, Atmosphere]> {
    run++;
    return [
      await node('close', { sessions, defaultRoles: true }),
      await node('close', { sessions, defaultRoles: true }),
    ];
  }

  const newSession = { [AtmosphereHeaders.sessionToken]: '0' };

  test("the asker's session follows its run on another node as its owner; another session as a viewer", async () => {
    const [a, b] = await nodes(true);
    const { runId, token } = await startOn(a, 'websocket', newSession);
    const stranger = await follow(b, runId, '0');
    expect(await stranger.role(runId, 10_000)).toBe('viewer');
    const back = await follow(b, runId, token);
    expect(await back.role(runId, 10_000)).toBe('owner');
    await back.stop(runId);
    expect(await back.answer(undefined, 15_000)).toMatchObject({ end: { reason: 'stopped' } });
  }, 30_000);

  test("a run whose owner record is gone from the log is nobody's: a follower is a viewer, even with the asker's token", async () => {
    const [a, b] = await nodes(true);
    const { runId, token } = await startOn(a, 'websocket', newSession);
    await a.log.delete(`ai-run-meta:${runId}`);
    const stranger = await follow(b, runId, '0');
    expect(await stranger.role(runId, 10_000)).toBe('viewer');
    const back = await follow(b, runId, token);
    expect(await back.role(runId, 10_000)).toBe('viewer');
    await refusedStop(back, runId);
  }, 30_000);

  test('without sessions the log records that the asker had none: every follower is an owner', async () => {
    const [a, b] = await nodes(false);
    const { runId } = await startOn(a, 'websocket');
    const follower = await follow(b, runId);
    expect(await follower.role(runId, 10_000)).toBe('owner');
    await follower.stop(runId);
    expect(await follower.answer(undefined, 15_000)).toMatchObject({ end: { reason: 'stopped' } });
  }, 30_000);

  test('without sessions, when that record is gone from the log, a follower is a viewer and may not stop the run', async () => {
    const [a, b] = await nodes(false);
    const { runId } = await startOn(a, 'websocket');
    await a.log.delete(`ai-run-meta:${runId}`);
    const follower = await follow(b, runId);
    expect(await follower.role(runId, 10_000)).toBe('viewer');
    await refusedStop(follower, runId);
  }, 30_000);
});
