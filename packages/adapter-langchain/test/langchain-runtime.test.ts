import '@atmosphere/ai/register';
import { aiEndpoint, tool } from '@atmosphere/ai';
import { createAgentContext } from '@atmosphere/ai/spi';
import {
  answerOf,
  collectingSession,
  connectAiClient,
  openAiErrorBody,
  openAiTranscript,
  type ReplayServer,
  startReplayServer,
} from '@atmosphere/ai/testing';
import type { AiEventFrame } from '@atmosphere/protocol';
import { recordingLogger, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { AIMessageChunk } from '@langchain/core/messages';
import { FakeChatModel, FakeListChatModel, FakeStreamingChatModel } from '@langchain/core/utils/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { langChain, LangChainRuntime } from '../src/index.ts';
import { chatOpenAi } from './helpers.ts';

let server: ReplayServer;
beforeAll(async () => {
  server = await startReplayServer();
});
afterAll(async () => {
  await server.close();
});

const weather = (calls: unknown[]) =>
  tool({
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    requiresApproval: true,
    execute: (args) => {
      calls.push(args);
      return { city: (args as { city: string }).city, celsius: 21 };
    },
  });

describe('the LangChain runtime behind an AI endpoint', () => {
  test('wins the selection, streams tool-call deltas, waits for approval, loops, and sums usage', async () => {
    server.enqueue(
      {
        kind: 'sse',
        body: openAiTranscript({
          toolCalls: [{ id: 'call_w1', name: 'get_weather', arguments: ['{"ci', 'ty":"Mon', 'treal"}'] }],
          usage: { prompt: 30, completion: 9 },
        }),
      },
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['It is', ' 21°C in', ' Montreal.'],
          usage: { prompt: 50, completion: 7, cached: 20 },
        }),
      },
    );
    const logger = recordingLogger();
    const atmosphere = await startTestAtmosphere({
      logger,
      env: {},
      providers: [langChain({ model: chatOpenAi(server.baseUrl) })],
    });
    const calls: unknown[] = [];
    const endpoint = aiEndpoint(atmosphere, {
      path: '/ai/weather',
      systemPrompt: 'You report the weather.',
      tools: [weather(calls)],
    });
    const client = await connectAiClient(atmosphere.url('/ai/weather'), 'websocket');
    try {
      expect(logger.lines.map((l) => l.message).find((m) => m.startsWith('agent-runtime:'))).toBe(
        'agent-runtime: langchain selected (highest priority of the available candidates (100)); demo: outranked — outranked by langchain (priority 100 vs -100); built-in: unavailable — no API key for gemini-2.5-flash at https://generativelanguage.googleapis.com/v1beta/openai: set LLM_API_KEY (or OPENAI_API_KEY / GEMINI_API_KEY), or LLM_MODE=local for Ollama',
      );
      const before = server.requests.items.length;
      await client.prompt('Weather in Montreal?');
      const asked = (await client.waitFor(
        (f) => f.type === 'event' && f.event === 'approval-required',
      )) as AiEventFrame<'approval-required'>;
      expect(calls).toEqual([]);
      await client.approve(asked.data.approvalId);
      const answer = await client.answer();
      expect(answer.end?.type).toBe('complete');
      expect(answer.text).toBe('It is 21°C in Montreal.');
      expect(calls).toEqual([{ city: 'Montreal' }]);
      const deltas = answer.frames.flatMap((f) =>
        f.type === 'metadata' && f.key === 'ai.toolCall.delta.call_w1' ? [f.value] : [],
      );
      expect(deltas).toEqual(['{"ci', 'ty":"Mon', 'treal"}']);
      expect(answer.events('tool-start')).toEqual([
        { toolName: 'get_weather', arguments: { city: 'Montreal' }, toolCallId: 'call_w1' },
      ]);
      expect(answer.events('tool-result').map((e) => e.result)).toEqual([{ city: 'Montreal', celsius: 21 }]);
      expect(answer.metadata.get('ai.tokens.input')).toBe(80);
      expect(answer.metadata.get('ai.tokens.output')).toBe(16);
      expect(answer.metadata.get('ai.tokens.cached_input')).toBe(20);
      expect(answer.metadata.get('ai.model')).toBe('gpt-4o-mini');

      const [first, second] = server.requests.items.slice(before).map((r) => r.body ?? {});
      expect(first?.['tools']).toEqual([
        {
          type: 'function',
          function: {
            name: 'get_weather',
            description: 'The weather in a city.',
            parameters: {
              type: 'object',
              properties: { city: { type: 'string' } },
              required: ['city'],
              additionalProperties: false,
            },
          },
        },
      ]);
      expect(first?.['messages']).toEqual([
        { role: 'system', content: 'You report the weather.' },
        { role: 'user', content: 'Weather in Montreal?' },
      ]);
      const followUp = second?.['messages'] as { role: string; content?: unknown; tool_call_id?: string }[];
      expect(followUp.map((m) => m.role)).toEqual(['system', 'user', 'assistant', 'tool']);
      expect(followUp[3]).toMatchObject({
        tool_call_id: 'call_w1',
        content: JSON.stringify({ city: 'Montreal', celsius: 21 }),
      });
    } finally {
      await client.close();
      await endpoint.close();
      await atmosphere.close();
    }
  });

  test('a client that stops the run aborts the model request upstream', async () => {
    server.enqueue({
      kind: 'sse',
      body: openAiTranscript({ text: Array.from({ length: 200 }, (_, i) => `word${i} `) }),
      pauseAfter: 3,
    });
    const atmosphere = await startTestAtmosphere({ env: {} });
    const endpoint = aiEndpoint(atmosphere, {
      path: '/ai/story',
      runtime: new LangChainRuntime({ model: chatOpenAi(server.baseUrl) }),
    });
    const client = await connectAiClient(atmosphere.url('/ai/story'), 'sse');
    try {
      const index = server.requests.items.length;
      await client.prompt('A long story, please.');
      const runId = (await client.waitFor(
        (f) => f.type === 'metadata' && f.key === 'X-Atmosphere-Run-Id',
      )) as {
        value: unknown;
      };
      const first = await client.waitFor((f) => f.type === 'streaming-text');
      expect(first.sessionId).toMatch(/\S/);
      await client.stop(String(runId.value));
      const answer = await client.answer(first.sessionId);
      expect(answer.end?.type).toBe('complete');
      expect(answer.end && 'reason' in answer.end && answer.end.reason).toBe('stopped');
      expect(await server.aborts.waitFor((i) => i === index)).toBe(index);
    } finally {
      server.release();
      await client.close();
      await endpoint.close();
      await atmosphere.close();
    }
  });
});

describe('provider failures and model limits', () => {
  test.each([
    [
      429,
      'LLM_RATE_LIMIT',
      openAiErrorBody('Rate limit reached for gpt-4o-mini.', 'requests', 'rate_limit_exceeded'),
    ],
    [500, 'LLM_SERVER_ERROR', openAiErrorBody('The server had an error.', 'server_error')],
    [
      401,
      'LLM_FAILED',
      openAiErrorBody(
        'Incorrect API key provided: sk-contr***0000.',
        'invalid_request_error',
        'invalid_api_key',
      ),
    ],
  ])('HTTP %i becomes an error frame with code %s', async (status, code, body) => {
    server.enqueue({ kind: 'http', status, body });
    const { session, frames } = collectingSession();
    const runtime = new LangChainRuntime({ model: chatOpenAi(server.baseUrl) });
    await runtime.execute(
      createAgentContext({ message: 'Hi', session }),
      session,
      new AbortController().signal,
    );
    const end = frames.items.at(-1);
    expect(end).toMatchObject({ type: 'error', code });
    expect(end && end.type === 'error' && end.data).toContain(String(status));
  });

  test('malformed tool arguments from the model become a tool error the model sees, and the answer goes on', async () => {
    server.enqueue(
      {
        kind: 'sse',
        body: openAiTranscript({
          toolCalls: [{ id: 'call_bad1', name: 'get_weather', arguments: ['{"city":', '"Montr'] }],
        }),
      },
      { kind: 'sse', body: openAiTranscript({ text: ['Sorry, ', 'I could not look it up.'] }) },
    );
    const before = server.requests.items.length;
    const calls: unknown[] = [];
    const { session, frames } = collectingSession();
    await new LangChainRuntime({ model: chatOpenAi(server.baseUrl) }).execute(
      createAgentContext({ message: 'Weather?', session, tools: [weather(calls)] }),
      session,
      new AbortController().signal,
    );
    expect(frames.items.at(-1)?.type).toBe('complete');
    expect(calls).toEqual([]);
    const errors = frames.items.flatMap((f) =>
      f.type === 'event' && f.event === 'tool-error' ? [f.data] : [],
    );
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ toolName: 'get_weather', toolCallId: 'call_bad1' });
    const followUp = server.requests.items[before + 1]?.body?.['messages'] as {
      role: string;
      tool_call_id?: string;
    }[];
    expect(followUp.map((m) => m.role)).toEqual(['user', 'assistant', 'tool']);
    expect(followUp[2]?.tool_call_id).toBe('call_bad1');
  });

  test('a model without bindTools declares no tool calling, and refuses tools with the fix in the message', async () => {
    const runtime = new LangChainRuntime({ model: new FakeChatModel({}) });
    expect([...runtime.capabilities].sort()).toEqual([
      'cancellation',
      'conversation-memory',
      'reasoning-deltas',
      'structured-output',
      'system-prompt',
      'vision',
    ]);
    const { session, frames } = collectingSession();
    await runtime.execute(
      createAgentContext({ message: 'Hi', session, tools: [weather([])] }),
      session,
      new AbortController().signal,
    );
    expect(frames.items.at(-1)).toMatchObject({
      type: 'error',
      data: expect.stringContaining('cannot call tools (it has no bindTools()); remove the endpoint'),
    });
  });

  test('capabilities follow the model: streaming fakes stream, ChatOpenAI reports usage and takes a cache key', () => {
    expect(new LangChainRuntime({ model: new FakeListChatModel({ responses: ['x'] }) }).capabilities).toEqual(
      new Set([
        'text-streaming',
        'system-prompt',
        'conversation-memory',
        'structured-output',
        'reasoning-deltas',
        'vision',
        'cancellation',
        'tool-calling',
        'tool-approval',
        'tool-call-deltas',
      ]),
    );
    const openAi = new LangChainRuntime({ model: chatOpenAi(server.baseUrl) }).capabilities;
    expect([openAi.has('token-usage'), openAi.has('prompt-caching')]).toEqual([true, true]);
    // Without usage, the cached tokens could not come back: not declared.
    const quiet = chatOpenAi(server.baseUrl);
    quiet.streamUsage = false;
    expect(new LangChainRuntime({ model: quiet }).capabilities.has('prompt-caching')).toBe(false);
    expect(
      new LangChainRuntime({
        model: new FakeListChatModel({ responses: ['x'] }),
        reportsUsage: true,
      }).capabilities.has('token-usage'),
    ).toBe(true);
  });

  test("Anthropic's thinking blocks become reasoning-delta events; a chunk's blocks win over its reasoning_content", async () => {
    const chunks = [
      new AIMessageChunk({ content: [{ type: 'thinking', thinking: 'Weigh', signature: '' }] }),
      new AIMessageChunk({
        content: [{ type: 'thinking', thinking: ' it.', signature: '' }],
        additional_kwargs: { reasoning_content: ' it.' },
      }),
      new AIMessageChunk({ content: '', additional_kwargs: { reasoning_content: ' Done.' } }),
      new AIMessageChunk({ content: [{ type: 'text', text: 'Answer.' }] }),
    ];
    const runtime = new LangChainRuntime({ model: new FakeStreamingChatModel({ chunks }) });
    const { session, frames } = collectingSession();
    await runtime.execute(
      createAgentContext({ message: 'Hi', session }),
      session,
      new AbortController().signal,
    );
    const answer = answerOf(frames.items, session.sessionId);
    expect(answer.events('reasoning-delta').map((e) => e.text)).toEqual(['Weigh', ' it.', ' Done.']);
    expect(answer.text).toBe('Answer.');
    expect(answer.end?.type).toBe('complete');
  });

  test('native structured output asks the provider for its JSON schema mode', async () => {
    server.enqueue({ kind: 'sse', body: openAiTranscript({ text: ['{"city":"Paris",', '"celsius":18}'] }) });
    const { session, frames } = collectingSession();
    const runtime = new LangChainRuntime({ model: chatOpenAi(server.baseUrl) });
    const before = server.requests.items.length;
    await runtime.execute(
      createAgentContext({
        message: 'Weather in Paris as JSON',
        session,
        responseFormat: {
          name: 'Weather',
          jsonSchema: {
            type: 'object',
            properties: { city: { type: 'string' }, celsius: { type: 'number' } },
          },
        },
      }),
      session,
      new AbortController().signal,
    );
    expect(frames.items.at(-1)?.type).toBe('complete');
    expect(
      frames.items
        .filter((f) => f.type === 'streaming-text')
        .map((f) => f.type === 'streaming-text' && f.data),
    ).toEqual(['{"city":"Paris","celsius":18}']);
    expect(server.requests.items[before]?.body?.['response_format']).toMatchObject({
      type: 'json_schema',
      json_schema: { name: 'Weather' },
    });
  });
});
