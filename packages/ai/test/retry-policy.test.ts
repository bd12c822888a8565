import { describe, expect, test } from 'vitest';
import type { AiInterceptor } from '../src/pipeline/ai-interceptor.ts';
import { aiEndpoint } from '../src/endpoint/ai-endpoint.ts';
import { runAgent } from '../src/pipeline/run-agent.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { openAiRuntime } from '../src/runtimes/openai/openai-runtime.ts';
import {
  collectingSession,
  connectAiClient,
  contractOpenAiSteps,
  CONTRACT_TEXT,
  startReplayServer,
} from '../src/testing/index.ts';
import { demoWarnings, harness } from './helpers.ts';

// An interceptor choosing each prompt's retries, from what the client sent in the prompt's metadata.
const retriesFromMetadata: AiInterceptor = {
  name: 'retries-from-metadata',
  preProcess: (request) => {
    const retries = request.metadata['retries'];
    return typeof retries === 'number' ? { ...request, retry: { maxRetries: retries } } : undefined;
  },
};

describe("a prompt's retry policy", () => {
  test('set by an interceptor, it reaches a runtime that declares per-request-retry, prompt by prompt', async () => {
    // Each scenario: two 500s, then the answer.
    const server = await startReplayServer([...contractOpenAiSteps().retry, ...contractOpenAiSteps().retry]);
    try {
      // The runtime's own policy: no retries.
      const runtime = openAiRuntime({
        env: {},
        apiKey: 'sk-test',
        baseUrl: server.baseUrl,
        retry: { maxRetries: 0, baseDelayMs: 1 },
      });
      const ask = async (metadata: Record<string, unknown>) => {
        const { session } = collectingSession();
        return runAgent({
          runtime,
          session,
          message: 'Hello?',
          metadata,
          interceptors: [retriesFromMetadata],
        });
      };
      expect((await ask({})).status).toBe('error'); // the first 500, not retried
      const retried = await ask({ retries: 2 }); // the second 500, then the answer
      expect([retried.status, retried.text]).toEqual(['complete', CONTRACT_TEXT]);
      expect((await ask({ retries: 1 })).status).toBe('error'); // two 500s: one retry is not enough
      expect(server.requests.items).toHaveLength(5);
    } finally {
      await server.close();
    }
  });

  test('a runtime that does not declare per-request-retry keeps its own, and the pipeline says so once', async () => {
    expect(await demoWarnings({ retry: { maxRetries: 4 } })).toEqual([
      "agent runtime demo does not declare per-request-retry: a prompt's retry policy (maxRetries 4) is not applied, the runtime's own is",
    ]);
  });

  test("an endpoint's retry option is every prompt's policy; an interceptor still decides per prompt; a bad one fails aiEndpoint", async () => {
    // Each scenario: two 500s, then the answer.
    const h = await harness({
      steps: [...contractOpenAiSteps().retry, ...contractOpenAiSteps().retry],
      retry: { maxRetries: 2 },
      interceptors: [retriesFromMetadata],
    });
    try {
      const client = await connectAiClient(h.url());
      await client.prompt('Hello?');
      expect((await client.answer()).text).toBe(CONTRACT_TEXT);
      await client.prompt(JSON.stringify({ prompt: 'Hello?', metadata: { retries: 1 } }));
      expect((await client.answer()).end).toMatchObject({ type: 'error' });
      expect(h.replay!.requests.items).toHaveLength(5);
      await client.close();
      for (const maxRetries of [-1, 1.5, 11, Number.NaN])
        expect(() =>
          aiEndpoint(h.atmosphere, { path: '/ai/bad', runtime: demoRuntime(), retry: { maxRetries } }),
        ).toThrow(/retry\.maxRetries/);
    } finally {
      await h.close();
    }
  });
});
