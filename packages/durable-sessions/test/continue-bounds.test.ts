import { type AiEndpointHandle, aiEndpoint, type InterruptedRuns, openAiRuntime } from '@atmosphere/ai';
import {
  CONTINUE_INSTRUCTION,
  CONTRACT_IMAGE,
  connectAiClient,
  openAiTranscript,
  type ReplayServer,
  startReplayServer,
} from '@atmosphere/ai/testing';
import {
  AtmosphereHeaders,
  type AiFrame,
  metadataFrame,
  parseAiFrame,
  RUN_ID_METADATA_KEY,
  textFrame,
} from '@atmosphere/protocol';
import { type Atmosphere, createAtmosphere, silentLogger } from '@atmosphere/runtime';
import type { TestTransport } from '@atmosphere/runtime/testing';
import { setTimeout as delay } from 'node:timers/promises';
import { afterEach, describe, expect, test } from 'vitest';
import { durable } from '../src/index.ts';
import { newFile, tempFolder } from './helpers.ts';

const folder = tempFolder('continue');

interface Setup {
  atmosphere: Atmosphere;
  endpoint: AiEndpointHandle;
  replay: ReplayServer;
}
let setup: Setup | undefined;
afterEach(async () => {
  await setup?.atmosphere.close();
  await setup?.replay.close();
  setup = undefined;
});

/** A server on a fresh SQLite file, as a process that just restarted: it knows no run but what the log holds. */
async function restarted(interruptedRuns: InterruptedRuns = {}): Promise<Setup> {
  const replay = await startReplayServer();
  const atmosphere = await createAtmosphere({
    host: '127.0.0.1',
    port: 0,
    autoload: false,
    env: {},
    logger: silentLogger,
    providers: durable({ sqlite: newFile(folder, 'continue') }),
  });
  const endpoint = aiEndpoint(atmosphere, {
    path: '/ai',
    runtime: openAiRuntime({
      env: {},
      apiKey: 'sk-test-continue-0123456789',
      model: 'gpt-4o-mini',
      baseUrl: replay.baseUrl,
      retry: { maxRetries: 0 },
    }),
    interruptedRuns,
  });
  setup = { atmosphere, endpoint, replay };
  return setup;
}

/**
 * What a process that died mid-answer left in the log: the run-id frame, `words` text frames, the run's
 * description (unless `described: false`) and the continuations already started.
 */
async function cutRun(
  atmosphere: Atmosphere,
  runId: string,
  words: readonly string[],
  options: { described?: boolean; attempts?: number } = {},
): Promise<void> {
  const sessionId = `session-${runId}`;
  const frames = [
    metadataFrame(RUN_ID_METADATA_KEY, runId, sessionId, 1),
    ...words.map((word, i) => textFrame(word, sessionId, i + 2)),
  ];
  await atmosphere.log.append(
    `ai-run:${runId}`,
    frames.map((payload) => ({ payload })),
  );
  const meta: string[] = [];
  if (options.described ?? true)
    meta.push(JSON.stringify({ descriptor: { prompt: 'Count to six', conversationId: 'c1' } }));
  for (let attempt = 1; attempt <= (options.attempts ?? 0); attempt++) meta.push(JSON.stringify({ attempt }));
  if (meta.length > 0)
    await atmosphere.log.append(
      `ai-run-meta:${runId}`,
      meta.map((payload) => ({ payload })),
    );
}

function reattach(url: string, runId: string, lastSeq: number, transport: TestTransport = 'websocket') {
  return connectAiClient(url, transport, {
    query: { [AtmosphereHeaders.runId]: runId, [AtmosphereHeaders.lastSeq]: String(lastSeq) },
  });
}

const text = (frames: readonly AiFrame[]) =>
  frames.map((f) => (f.type === 'streaming-text' ? f.data : '')).join('');

describe('policy continue, in a restarted process', () => {
  test.each(['websocket', 'sse', 'long-polling'] as const)(
    'over %s: the missed frames, then the continuation numbered on, and the model got the partial answer',
    async (transport) => {
      const { atmosphere, replay } = await restarted();
      replay.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['four ', 'five ', 'six'] }) });
      await cutRun(atmosphere, 'run-a', ['one ', 'two ', 'three ']);
      // The client saw the run-id frame and "one " (seq 2) before the crash.
      const client = await reattach(atmosphere.url('/ai'), 'run-a', 2, transport);
      const end = await client.waitFor((f) => f.type === 'complete' || f.type === 'error', 10_000);
      expect(end.type).toBe('complete');
      const frames = client.frames().filter((f) => f.sessionId === 'session-run-a');
      expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 3));
      expect(text(frames)).toBe('two three four five six');
      const request = await replay.requests.next(1_000);
      expect((request.body?.['messages'] as unknown[]).slice(-3)).toEqual([
        { role: 'user', content: 'Count to six' },
        { role: 'assistant', content: 'one two three ' },
        { role: 'user', content: CONTINUE_INSTRUCTION },
      ]);
      // The log holds the whole answer once, ending complete: a later client gets the same.
      const later = await reattach(atmosphere.url('/ai'), 'run-a', 0);
      await later.waitFor((f) => f.type === 'complete', 5_000);
      expect(text(later.frames())).toBe('one two three four five six');
      expect(replay.requests.items).toHaveLength(1);
      await client.close();
      await later.close();
    },
  );

  test('two clients coming back at once: one continuation, both follow it to the same end', async () => {
    const { atmosphere, replay } = await restarted();
    replay.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['b ', 'c'] }), delayMs: 5 });
    await cutRun(atmosphere, 'run-b', ['a ']);
    const [first, second] = await Promise.all([
      reattach(atmosphere.url('/ai'), 'run-b', 0),
      reattach(atmosphere.url('/ai'), 'run-b', 1),
    ]);
    for (const client of [first, second]) await client.waitFor((f) => f.type === 'complete', 10_000);
    expect(text(first.frames())).toBe('a b c');
    expect(text(second.frames())).toBe('a b c');
    expect(replay.requests.items).toHaveLength(1);
    await first.close();
    await second.close();
  });

  test('past maxAttempts the run ends INTERRUPTED and the model is not called', async () => {
    const { atmosphere, replay } = await restarted({ maxAttempts: 2 });
    await cutRun(atmosphere, 'run-c', ['x '], { attempts: 2 });
    const client = await reattach(atmosphere.url('/ai'), 'run-c', 0);
    const end = await client.waitFor((f) => f.type === 'error', 5_000);
    expect(end).toMatchObject({ code: 'INTERRUPTED', seq: 3 });
    expect(replay.requests.items).toHaveLength(0);
    await client.close();
  });

  test('a run the log does not describe (custom onPrompt) is closed, not continued', async () => {
    const { atmosphere, replay } = await restarted();
    await cutRun(atmosphere, 'run-d', ['x '], { described: false });
    const client = await reattach(atmosphere.url('/ai'), 'run-d', 0);
    expect(await client.waitFor((f) => f.type === 'error', 5_000)).toMatchObject({ code: 'INTERRUPTED' });
    expect(replay.requests.items).toHaveLength(0);
    await client.close();
  });

  test('a run whose prompt had images is not described in the log (it would be continued without them)', async () => {
    const { atmosphere, replay } = await restarted();
    replay.enqueue(
      { kind: 'sse', body: openAiTranscript({ text: ['Red', '.'] }) },
      { kind: 'sse', body: openAiTranscript({ text: ['Hi', '.'] }) },
    );
    const client = await connectAiClient(atmosphere.url('/ai'));
    await client.prompt(JSON.stringify({ prompt: 'Which colour?', attachments: [CONTRACT_IMAGE] }));
    const withImage = await client.answer();
    await client.prompt('Hello');
    const textOnly = await client.answer();
    expect([withImage.text, textOnly.text]).toEqual(['Red.', 'Hi.']);
    // What the log keeps beside each run (its owner, its description), polled with a bound: appends are batched.
    const meta = async (runId: string | undefined) => {
      const read = await atmosphere.log.read(`ai-run-meta:${runId}`, 0, { limit: 100 });
      return (read?.records ?? []).map((r) => JSON.parse(Buffer.from(r.payload).toString('utf8')) as object);
    };
    for (let i = 0; i < 250 && !(await meta(textOnly.runId)).some((m) => 'descriptor' in m); i++)
      await delay(20);
    expect((await meta(textOnly.runId)).filter((m) => 'descriptor' in m)).toEqual([
      { descriptor: expect.objectContaining({ prompt: 'Hello' }) },
    ]);
    const imageMeta = await meta(withImage.runId);
    expect(imageMeta.length).toBeGreaterThan(0); // its owner record: the run is in the log
    expect(imageMeta.filter((m) => 'descriptor' in m)).toEqual([]);
    await client.close();
  });

  test('a continuation without progress for noProgressMs ends INTERRUPTED and its model call is aborted', async () => {
    const { atmosphere, replay } = await restarted({ noProgressMs: 200 });
    replay.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['y ', 'z'] }), pauseAfter: 1 });
    await cutRun(atmosphere, 'run-e', ['x ']);
    const client = await reattach(atmosphere.url('/ai'), 'run-e', 0);
    const end = await client.waitFor((f) => f.type === 'error', 5_000);
    expect(end).toMatchObject({ code: 'INTERRUPTED' });
    expect((end as { data: string }).data).toContain('no progress');
    expect(await replay.aborts.next(2_000)).toBe(0);
    replay.release();
    await client.close();
  });

  test('a continuation past maxContinuationChars ends INTERRUPTED (the spend cap)', async () => {
    const { atmosphere, replay } = await restarted({ maxContinuationChars: 12 });
    replay.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['0123456789', 'abcdefghij', 'more'] }) });
    await cutRun(atmosphere, 'run-f', ['x ']);
    const client = await reattach(atmosphere.url('/ai'), 'run-f', 0);
    const end = await client.waitFor((f) => f.type === 'error', 5_000);
    expect(end).toMatchObject({ code: 'INTERRUPTED' });
    expect(text(client.frames())).toBe('x 0123456789');
    await client.close();
  });

  test('policy close ends a cut run with INTERRUPTED once, whoever comes back', async () => {
    const { atmosphere, replay } = await restarted({ policy: 'close' });
    await cutRun(atmosphere, 'run-g', ['x ', 'y ']);
    const client = await reattach(atmosphere.url('/ai'), 'run-g', 1);
    expect(await client.waitFor((f) => f.type === 'error', 5_000)).toMatchObject({
      code: 'INTERRUPTED',
      seq: 4,
    });
    const read = await atmosphere.log.read('ai-run:run-g', 0);
    expect(read?.records.map((r) => parseAiFrame(String(r.payload))?.type)).toEqual([
      'metadata',
      'streaming-text',
      'streaming-text',
      'error',
    ]);
    expect(replay.requests.items).toHaveLength(0);
    await client.close();
  });
});
