import { aiEndpoint, openAiRuntime } from '@atmosphere/ai';
import {
  type AiTestClient,
  answerOf,
  connectAiClient,
  openAiTranscript,
  type ReplayServer,
  startReplayServer,
  wrapAiClient,
} from '@atmosphere/ai/testing';
import { durable } from '@atmosphere/durable-sessions';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  connectTestClient,
  eventually,
  startTestAtmosphere,
  startTestRedis,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { redisBackplane, redisClusterState } from '../src/index.ts';

/**
 * The role of a connection that follows, on another node, a run produced elsewhere is decided from the run's
 * owner as the shared log records it (`ai-run-meta:<runId>`). When that record is gone (a failed append, a
 * trim, a delete), nobody is known to own the run: the follower is a viewer, its stop is refused `FORBIDDEN`
 * and the answer goes on. Two nodes on a real redis-server (backplane, shared log, sessions, cluster state),
 * no `role` hook (the default roles), an OpenAI-compatible runtime against a replay server, real clients.
 */
const CHUNKS = Array.from({ length: 20 }, (_, i) => `t${i} `);

let redis: TestRedis;
let replay: ReplayServer;
let nodes: Atmosphere[] = [];
let clients: AiTestClient[] = [];
let run = 0;

beforeAll(async () => {
  [redis, replay] = await Promise.all([startTestRedis(), startReplayServer()]);
});

afterEach(async () => {
  replay.release();
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.close()));
  clients = [];
  nodes = [];
});

afterAll(async () => {
  await Promise.all([redis.stop(), replay.close()]);
});

/** A node; `sessions: false` leaves out the session store (no connection has a session token). */
async function node(sessions: boolean): Promise<Atmosphere> {
  const prefix = `ai-run-owner${run}:`;
  const atmosphere = await startTestAtmosphere({
    autoload: false,
    rateLimit: false,
    providers: [
      redisBackplane({ url: redis.url, channelPrefix: prefix }),
      ...durable({
        redis: redis.url,
        prefix,
        kinds: sessions ? ['stream-log', 'session-store'] : ['stream-log'],
      }),
      redisClusterState({ url: redis.url, keyPrefix: `${prefix}cluster:`, leaseMs: 1_000 }),
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
    interruptedRuns: { policy: 'close' },
  });
  return atmosphere;
}

/** The session token the connection was given (its first frame), when the node keeps sessions. */
async function tokenOf(client: AiTestClient): Promise<string> {
  const frame = await client.client.messages.waitFor((m) => m.startsWith('{"type":"atmosphere-session"'));
  return (JSON.parse(frame) as { token: string }).token;
}

/**
 * Asks on `a` (with a new session when `a` keeps them), waits for the first tokens (the provider pauses after
 * them), and loses the connection: the run goes on on `a`.
 */
async function startOn(a: Atmosphere, sessions: boolean): Promise<{ runId: string; token?: string }> {
  replay.enqueue({
    kind: 'sse',
    body: openAiTranscript({ text: CHUNKS, usage: { prompt: 5, completion: CHUNKS.length } }),
    pauseAfter: 6,
  });
  const raw = await connectTestClient(a.url('/ai'), 'websocket', {
    received: 0,
    ...(sessions ? { query: { [AtmosphereHeaders.sessionToken]: '0' } } : {}),
  });
  const asker = wrapAiClient(raw);
  clients.push(asker);
  const token = sessions ? await tokenOf(asker) : undefined;
  await asker.prompt('Count for me');
  await eventually(
    () => asker.frames().filter((frame) => frame.type === 'streaming-text').length >= 4,
    'the first tokens on a',
    10_000,
  );
  const runId = answerOf(asker.frames(), asker.frames()[0]!.sessionId).runId!;
  expect(await asker.role(runId)).toBe('owner');
  raw.cut();
  return token === undefined ? { runId } : { runId, token };
}

async function follow(b: Atmosphere, runId: string, token?: string): Promise<AiTestClient> {
  const client = await connectAiClient(b.url('/ai'), 'websocket', {
    query: {
      [AtmosphereHeaders.runId]: runId,
      [AtmosphereHeaders.lastSeq]: '0',
      ...(token === undefined ? {} : { [AtmosphereHeaders.sessionToken]: token }),
    },
  });
  clients.push(client);
  return client;
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

describe('with sessions', () => {
  test("the asker's session follows its run on another node as its owner; another session as a viewer", async () => {
    run++;
    const a = await node(true);
    const b = await node(true);
    const { runId, token } = await startOn(a, true);
    const stranger = await follow(b, runId, '0');
    expect(await stranger.role(runId, 10_000)).toBe('viewer');
    const back = await follow(b, runId, token);
    expect(await back.role(runId, 10_000)).toBe('owner');
    await back.stop(runId);
    expect(await back.answer(undefined, 15_000)).toMatchObject({ end: { reason: 'stopped' } });
  }, 30_000);

  test('a run whose owner record is gone from the log is nobody’s: a follower on another node is a viewer, even with the asker’s token', async () => {
    run++;
    const a = await node(true);
    const b = await node(true);
    const { runId, token } = await startOn(a, true);
    await a.log.delete(`ai-run-meta:${runId}`);
    const stranger = await follow(b, runId, '0');
    expect(await stranger.role(runId, 10_000)).toBe('viewer');
    const back = await follow(b, runId, token);
    expect(await back.role(runId, 10_000)).toBe('viewer');
    await refusedStop(back, runId);
  }, 30_000);
});

describe('without sessions', () => {
  test('the log records that the asker had none: every follower on another node is an owner', async () => {
    run++;
    const a = await node(false);
    const b = await node(false);
    const { runId } = await startOn(a, false);
    const follower = await follow(b, runId);
    expect(await follower.role(runId, 10_000)).toBe('owner');
    await follower.stop(runId);
    expect(await follower.answer(undefined, 15_000)).toMatchObject({ end: { reason: 'stopped' } });
  }, 30_000);

  test('when that record is gone from the log, a follower on another node is a viewer and may not stop the run', async () => {
    run++;
    const a = await node(false);
    const b = await node(false);
    const { runId } = await startOn(a, false);
    await a.log.delete(`ai-run-meta:${runId}`);
    const follower = await follow(b, runId);
    expect(await follower.role(runId, 10_000)).toBe('viewer');
    await refusedStop(follower, runId);
  }, 30_000);
});
