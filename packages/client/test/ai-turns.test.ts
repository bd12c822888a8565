import { readFileSync } from 'node:fs';
import { aiEndpoint, type AiRole, openAiRuntime } from '@atmosphere/ai';
import { type ReplayServer, startReplayServer } from '@atmosphere/ai/testing';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type StreamingHandle, subscribeStreaming } from '../src/index.ts';
import { StreamingModel } from '../src/ai/streaming-model.ts';

const TEXT = readFileSync(new URL('../../ai/test/__fixtures__/openai-text.sse', import.meta.url), 'utf8');

let server: Server | undefined;
let replay: ReplayServer | undefined;
const handles: StreamingHandle[] = [];
const models: StreamingModel[] = [];
afterEach(async () => {
  for (const handle of handles.splice(0)) await handle.close();
  for (const model of models.splice(0)) model.disconnect();
  await server?.close();
  await replay?.close();
  server = undefined;
  replay = undefined;
});

/** An AI endpoint on the built-in runtime over a replay server; the role comes from the auth token `name:role`. */
async function start(steps: number) {
  replay = await startReplayServer([
    { kind: 'sse', body: TEXT, pauseAfter: 4 },
    ...Array.from({ length: steps - 1 }, () => ({ kind: 'sse' as const, body: TEXT })),
  ]);
  server = await startTestAtmosphere({
    auth: { verify: (token) => (token.includes(':') ? { role: token.split(':')[1] } : undefined) },
  });
  aiEndpoint(server, {
    path: '/ai',
    runtime: openAiRuntime({
      env: {},
      apiKey: 'sk-test-0123456789',
      baseUrl: replay.baseUrl,
      retry: { maxRetries: 0 },
    }),
    role: ({ principal }) => (principal as { role: AiRole }).role,
  });
}

describe.each(['websocket', 'long-polling'] as const)('%s: steer, roles, refusals', (transport) => {
  test('the owner steers; a viewer is told its role, its stop and steer are refused and the answer goes on', async () => {
    await start(2);
    const tokens: string[] = [];
    const steers = new Inbox<string>(8_000);
    const ends = new Inbox<string>(8_000);
    const owner = subscribeStreaming(
      { url: server!.url('/ai'), transport, fallbackTransport: [], authToken: 'olivia:owner' },
      {
        onToken: (text) => tokens.push(text),
        onEvent: (event) => {
          if (event.event === 'steer') steers.push((event.data as { status: string }).status);
        },
        onComplete: (_summary, frame) =>
          ends.push(`complete:${frame.type === 'complete' ? (frame.reason ?? '') : ''}`),
        onError: (message) => ends.push(`error:${message}`),
      },
      { atmosphere: new Atmosphere() },
    );
    handles.push(owner);
    expect(owner.steer('too early')).toBeUndefined();
    owner.send('Tell me a story');
    await eventually(
      () => tokens.length >= 3 && owner.runId !== undefined && owner.role === 'owner',
      'tokens',
    );
    const runId = owner.runId!;

    const refusals = new Inbox<string>(8_000);
    const roles: AiRole[] = [];
    const viewer = subscribeStreaming(
      { url: server!.url('/ai'), transport, fallbackTransport: [], authToken: 'victor:viewer', runId },
      {
        onRole: (role) => roles.push(role),
        onRefused: (code) => refusals.push(String(code)),
      },
      { atmosphere: new Atmosphere() },
    );
    handles.push(viewer);
    await eventually(() => viewer.role === 'viewer' && viewer.runId === runId, 'the viewer follows the run');
    expect(roles).toEqual(['viewer']);
    expect(viewer.stop()).toBe(true);
    expect(await refusals.next()).toBe('FORBIDDEN');
    expect(viewer.steer('Say it in Latin.')).toBeDefined();
    expect(await refusals.next()).toBe('FORBIDDEN');
    // The refusals did not end the viewer's view of the run: it can still name it.
    expect(viewer.runId).toBe(runId);

    const steerId = owner.steer('Make it shorter.');
    expect(steerId).toMatch(/^s/);
    expect(await steers.next()).toBe('accepted');
    replay!.release();
    expect(await ends.next()).toBe('complete:');
    expect(await steers.next()).toBe('applied');
    const second = (await replay!.requests.waitForCount(2))[1]!.body!['messages'] as unknown[];
    expect(second.at(-1)).toEqual({ role: 'user', content: 'Make it shorter.' });
    expect(replay!.requests.items).toHaveLength(2);
  });

  test('StreamingModel: role and refusal in the snapshot; a refusal does not reset the text', async () => {
    await start(1);
    const owner = new StreamingModel({
      request: { url: server!.url('/ai'), transport, fallbackTransport: [], authToken: 'olivia:owner' },
      atmosphere: new Atmosphere(),
    });
    models.push(owner);
    owner.connect();
    await eventually(() => owner.getSnapshot().connectionState === 'connected', 'connected');
    owner.send('Tell me a story');
    await eventually(() => owner.getSnapshot().tokenCount >= 3, 'tokens');
    const runId = (owner.getSnapshot().metadata['X-Atmosphere-Run-Id'] as string) ?? '';
    const viewer = new StreamingModel({
      request: {
        url: server!.url('/ai'),
        transport,
        fallbackTransport: [],
        authToken: 'victor:viewer',
        runId,
      },
      atmosphere: new Atmosphere(),
    });
    models.push(viewer);
    viewer.connect();
    await eventually(
      () => viewer.getSnapshot().role === 'viewer' && viewer.getSnapshot().tokenCount >= 3,
      'viewer',
    );
    const before = viewer.getSnapshot().fullText;
    expect(viewer.stop()).toBe(true);
    await eventually(() => viewer.getSnapshot().refusal !== null, 'the refusal');
    expect(viewer.getSnapshot()).toMatchObject({
      refusal: { code: 'FORBIDDEN' },
      isStreaming: true,
      fullText: before,
    });
    expect(owner.getSnapshot().role).toBe('owner');
    expect(owner.stop()).toBe(true);
    await eventually(() => owner.getSnapshot().stats?.status === 'stopped', 'stopped');
    await eventually(() => viewer.getSnapshot().stats?.status === 'stopped', 'the viewer sees the stop');
  });
});
