import type { Atmosphere } from '@atmosphere/runtime';
import { connectTestClient, eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { runAgent } from '../src/pipeline/run-agent.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { createBroadcasterSession, createResourceSession } from '../src/streaming/session-factories.ts';
import type { StreamingSession } from '../src/streaming/streaming-session.ts';
import { answerOf, wrapAiClient } from '../src/testing/index.ts';

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

describe('sessions outside an endpoint', () => {
  test('a broadcaster session streams one answer to every subscriber of a room, serialised once', async () => {
    atmosphere = await startTestAtmosphere();
    atmosphere.managed('/room/{name}', {});
    const alice = wrapAiClient(await connectTestClient(atmosphere.url('/room/lobby'), 'websocket'));
    const bob = wrapAiClient(await connectTestClient(atmosphere.url('/room/lobby'), 'sse'));
    const elsewhere = wrapAiClient(await connectTestClient(atmosphere.url('/room/other'), 'websocket'));
    const broadcaster = atmosphere.broadcasters.find('/room/lobby')!;
    const payloads = new Set<unknown>();
    broadcaster.addFilter({ name: 'count', filter: (payload) => (payloads.add(payload), payload) });
    const session = createBroadcasterSession(broadcaster);
    const response = await runAgent({
      runtime: demoRuntime({ delayMs: 0, answer: () => 'Hello, room.' }),
      session,
      message: 'hi',
    });
    expect(response.status).toBe('complete');
    const [a, b] = await Promise.all([alice.answer(), bob.answer()]);
    expect(a.text).toBe('Hello, room.');
    expect(b.frames).toEqual(a.frames);
    expect(payloads.size).toBe(a.frames.length);
    expect(elsewhere.frames()).toEqual([]);
    await Promise.all([alice.close(), bob.close(), elsewhere.close()]);
  });

  test('a resource session answers one client and is cancelled when it leaves for good', async () => {
    atmosphere = await startTestAtmosphere({ reconnectGraceMs: 100 });
    const sessions: StreamingSession[] = [];
    atmosphere.managed('/ask', {
      onReady(resource) {
        const session = createResourceSession(resource);
        sessions.push(session);
        void runAgent({
          runtime: demoRuntime({ delayMs: 20, answer: () => 'word '.repeat(500) }),
          session,
          message: 'long',
        });
      },
    });
    const asker = wrapAiClient(await connectTestClient(atmosphere.url('/ask'), 'websocket'));
    const other = wrapAiClient(await connectTestClient(atmosphere.url('/ask'), 'websocket'));
    await asker.waitFor((f) => 'type' in f && f.type === 'streaming-text');
    const askerSession = asker.frames()[0]!.sessionId;
    expect(other.frames().every((f) => f.sessionId !== askerSession)).toBe(true);
    asker.client.cut();
    await eventually(() => sessions[0]!.closed, 'the session to be cancelled', 2_000);
    expect(await sessions[0]!.done).toMatchObject({ status: 'error', code: 'CANCELLED' });
    expect(sessions[0]!.signal.aborted).toBe(true);
    expect(answerOf(other.frames(), sessions[1]!.sessionId).end).toBeUndefined();
    await other.close();
  });
});

describe('conversation-memory provider', () => {
  test('the endpoint uses the selected conversation-memory provider', async () => {
    const { InMemoryConversationMemory } = await import('../src/memory/in-memory-conversation-memory.ts');
    const { inMemoryConversationMemoryProvider } = await import('../src/runtimes/providers.ts');
    const { aiEndpoint } = await import('../src/endpoint/ai-endpoint.ts');
    const { connectAiClient } = await import('../src/testing/index.ts');
    atmosphere = await startTestAtmosphere({
      providers: [inMemoryConversationMemoryProvider({ maxMessages: 2 })],
    });
    const memory = atmosphere.provider('conversation-memory');
    expect(memory).toBeInstanceOf(InMemoryConversationMemory);
    const endpoint = aiEndpoint(atmosphere, {
      path: '/ai',
      runtime: demoRuntime({ delayMs: 0, answer: () => 'ok' }),
    });
    expect(endpoint.memory).toBe(memory);
    const client = await connectAiClient(atmosphere.url('/ai'));
    await client.prompt('remember me');
    await client.answer();
    expect(await memory!.history(client.client.trackingId)).toEqual([
      { role: 'user', content: 'remember me' },
      { role: 'assistant', content: 'ok' },
    ]);
    await client.close();
    await endpoint.close();
  });
});
