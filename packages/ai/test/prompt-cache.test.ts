import { describe, expect, test } from 'vitest';
import type { AiInterceptor } from '../src/pipeline/ai-interceptor.ts';
import { aiEndpoint } from '../src/endpoint/ai-endpoint.ts';
import { runAgent } from '../src/pipeline/run-agent.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import type { PromptCacheHint } from '../src/spi/agent-runtime.ts';
import {
  collectingSession,
  connectAiClient,
  contractOpenAiSteps,
  CONTRACT_CACHED_INPUT_TOKENS,
  CONTRACT_TEXT,
} from '../src/testing/index.ts';
import { llmRoomMember } from '../src/rooms/index.ts';
import { demoWarnings, harness } from './helpers.ts';
import { isAnswerEnd, roomsHarness } from './rooms-helpers.ts';

// A key per tenant, chosen on the server from what the connection is (here: the prompt's metadata, checked
// against the tenants the server knows — never a client's key as it is).
const TENANTS = new Set(['acme', 'globex']);
const keyPerTenant: AiInterceptor = {
  name: 'cache-key-per-tenant',
  preProcess: (request) => {
    const tenant = request.metadata['tenant'];
    return typeof tenant === 'string' && TENANTS.has(tenant)
      ? { ...request, promptCache: { ...request.promptCache, key: `support-v3:${tenant}` } }
      : undefined;
  },
};

describe("a prompt's caching hint", () => {
  test("an endpoint's promptCache reaches the provider as prompt_cache_key and retention; an interceptor may key it per prompt; the cached tokens reach the client", async () => {
    const steps = contractOpenAiSteps()['prompt-caching'];
    const h = await harness({
      steps: [...steps, ...contractOpenAiSteps()['prompt-caching'], ...contractOpenAiSteps().text],
      systemPrompt: 'You are the support desk.',
      promptCache: { key: 'support-v3', retention: 'long' },
      interceptors: [keyPerTenant],
    });
    try {
      const client = await connectAiClient(h.url());
      await client.prompt('Hello?');
      const first = await client.answer();
      expect(first.text).toBe(CONTRACT_TEXT);
      expect(first.metadata.get('ai.tokens.cached_input')).toBe(CONTRACT_CACHED_INPUT_TOKENS);
      await client.prompt(JSON.stringify({ prompt: 'Hello?', metadata: { tenant: 'acme' } }));
      await client.answer();
      // A tenant the server does not know keeps the endpoint's key.
      await client.prompt(JSON.stringify({ prompt: 'Hello?', metadata: { tenant: 'evil' } }));
      const third = await client.answer();
      expect(third.metadata.has('ai.tokens.cached_input')).toBe(true);
      expect(third.metadata.get('ai.tokens.cached_input')).toBe(0);
      expect(
        h.replay!.requests.items.map((r) => [
          r.body?.['prompt_cache_key'],
          r.body?.['prompt_cache_retention'],
        ]),
      ).toEqual([
        ['support-v3', '24h'],
        ['support-v3:acme', '24h'],
        ['support-v3', '24h'],
      ]);
      await client.close();
    } finally {
      await h.close();
    }
  });

  test('without a hint, the request has no caching fields (servers that do not know them never see them)', async () => {
    const h = await harness({ steps: contractOpenAiSteps().text });
    try {
      const client = await connectAiClient(h.url());
      await client.prompt('Hello?');
      expect((await client.answer()).text).toBe(CONTRACT_TEXT);
      const body = h.replay!.requests.items[0]!.body!;
      expect(Object.keys(body).filter((k) => k.startsWith('prompt_cache'))).toEqual([]);
      await client.close();
    } finally {
      await h.close();
    }
  });

  test('a runtime that does not declare prompt-caching answers without it, and the pipeline says so once', async () => {
    expect(await demoWarnings({ promptCache: { key: 'k' }, retry: { maxRetries: 1 } })).toEqual([
      "agent runtime demo does not declare per-request-retry: a prompt's retry policy (maxRetries 1) is not applied, the runtime's own is",
      "agent runtime demo does not declare prompt-caching: a prompt's caching hint is not sent to the provider (cached input tokens may still be reported)",
    ]);
  });

  test('a bad hint fails aiEndpoint (INVALID_OPTION), or the run when an interceptor sets it (AI_FAILED)', async () => {
    const bad: unknown[] = [
      { key: '' },
      { key: 'k'.repeat(65) },
      { key: 'line\nbreak' },
      { key: 42 },
      { retention: 'forever' },
    ];
    const h = await harness({ runtime: demoRuntime() });
    try {
      for (const promptCache of bad)
        expect(() =>
          aiEndpoint(h.atmosphere, {
            path: '/ai/bad',
            runtime: demoRuntime(),
            promptCache: promptCache as PromptCacheHint,
          }),
        ).toThrow(/promptCache/);
    } finally {
      await h.close();
    }
    const runtime = demoRuntime({ delayMs: 0, answer: () => 'Hi.' });
    const { session, frames } = collectingSession();
    const response = await runAgent({
      runtime,
      session,
      message: 'Hello?',
      interceptors: [{ preProcess: (request) => ({ ...request, promptCache: { key: 'k'.repeat(65) } }) }],
    });
    expect(response.status).toBe('error');
    expect(frames.items.at(-1)).toMatchObject({ type: 'error', code: 'AI_FAILED' });
  });

  test("an AI room member's promptCache reaches the provider with each question; the cached tokens reach the room", async () => {
    const h = await roomsHarness({ steps: contractOpenAiSteps()['prompt-caching'] });
    try {
      h.rooms.room('lobby').joinVirtual(
        llmRoomMember({
          id: 'assistant',
          runtime: h.runtime(),
          promptCache: { key: 'room:lobby', retention: 'short' },
        }),
      );
      const alice = await h.member('alice', 'lobby');
      await alice.say('lobby', '@assistant hello');
      expect(await alice.waitFor(isAnswerEnd)).toMatchObject({ type: 'complete' });
      const cached = alice
        .frames()
        .find((f) => f['from'] === 'assistant' && f['key'] === 'ai.tokens.cached_input');
      expect(cached?.['value']).toBe(CONTRACT_CACHED_INPUT_TOKENS);
      const body = h.replay.requests.items[0]!.body!;
      expect([body['prompt_cache_key'], body['prompt_cache_retention']]).toEqual(['room:lobby', 'in_memory']);
      expect(() => llmRoomMember({ id: 'critic', promptCache: { key: '' } })).toThrow(
        /LlmRoomMember critic: `promptCache`: `key` must be a string of 1 to 64 characters/,
      );
    } finally {
      await h.close();
    }
  });
});
