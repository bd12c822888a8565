import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { recordingLogger } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAgentContext } from '../src/pipeline/agent-context.ts';
import { openAiRuntime, type OpenAiRuntimeOptions } from '../src/runtimes/openai/openai-runtime.ts';
import type { AiFrame } from '@atmosphere/protocol';
import {
  answerOf,
  collectingSession,
  type ReplayServer,
  type ReplayStep,
  startReplayServer,
} from '../src/testing/index.ts';
import type { JsonSchema } from '../src/tools/json-schema.ts';
import { type Tool, tool } from '../src/tools/tool.ts';
import { httpStep, sseStep, transcript, transcriptText } from './fixtures.ts';

const KEY = 'sk-test-9f8e7d6c5b4a3f2e1d0cSECRET';
let server: ReplayServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

async function run(
  steps: ReplayStep[],
  options: Partial<OpenAiRuntimeOptions> & {
    tools?: Tool[];
    message?: string;
    maxToolRounds?: number;
    signal?: AbortSignal;
  } = {},
) {
  server = await startReplayServer(steps);
  const delays: number[] = [];
  const logger = recordingLogger();
  const runtime = openAiRuntime({
    env: {},
    apiKey: KEY,
    model: 'gpt-4o-mini',
    baseUrl: server.baseUrl,
    sleep: async (ms) => void delays.push(ms),
    random: () => 0.5,
    logger,
    ...options,
  });
  const { session, frames } = collectingSession();
  const context = createAgentContext({
    message: options.message ?? 'Hello?',
    session,
    systemPrompt: 'Be brief.',
    tools: options.tools ?? [],
    ...(options.maxToolRounds === undefined ? {} : { maxToolRounds: options.maxToolRounds }),
  });
  await runtime.execute(context, session, options.signal ?? session.signal);
  return {
    frames: frames.items,
    answer: answerOf(frames.items, session.sessionId),
    delays,
    logger,
    server,
    session,
  };
}

const kinds = (frames: readonly AiFrame[]) =>
  frames.map((f) => ('event' in f ? f.event : f.type === 'metadata' ? `metadata:${f.key}` : f.type));

const weatherCalls: unknown[] = [];
const weather = tool({
  name: 'get_weather',
  description: 'Current weather of a city',
  parameters: z.object({ city: z.string() }),
  execute: ({ city }) => {
    weatherCalls.push(city);
    return { city, celsius: 21, conditions: 'sunny' };
  },
});

describe('built-in runtime against replayed provider transcripts', () => {
  test('text: frames in order, each token once, usage from the usage chunk, then complete', async () => {
    const { frames, answer, server } = await run([sseStep('openai-text.sse')]);
    const tokens = frames
      .filter((f) => 'type' in f && f.type === 'streaming-text')
      .map((f) => (f as { data: string }).data);
    expect(tokens).toEqual([
      'Hello',
      '!',
      ' Atmosphere',
      ' streams',
      ' each',
      ' token',
      ' to',
      ' the',
      ' browser',
      ' as',
      ' it',
      ' arrives',
      ' —',
      ' über',
      ' fast',
      ' 🚀',
      '.',
    ]);
    expect(answer.text).toBe(transcriptText('openai-text.sse'));
    expect(kinds(frames)).toEqual([
      'metadata:X-Atmosphere-Run-Id',
      'metadata:ai.model',
      ...tokens.map(() => 'streaming-text'),
      'metadata:ai.tokens.input',
      'metadata:ai.tokens.output',
      'metadata:ai.tokens.cached_input',
      'metadata:ai.tokens.total',
      'complete',
    ]);
    expect(frames.map((f) => f.seq)).toEqual(frames.map((_, i) => i + 1));
    expect([...answer.metadata]).toEqual(
      expect.arrayContaining([
        ['ai.model', 'gpt-4o-mini'],
        ['ai.tokens.input', 19],
        ['ai.tokens.output', 17],
        ['ai.tokens.total', 36],
      ]),
    );
    const request = await server.requests.next();
    expect(request.path).toBe('/v1/chat/completions');
    expect(request.headers.authorization).toBe(`Bearer ${KEY}`);
    expect(request.body).toMatchObject({
      model: 'gpt-4o-mini',
      stream: true,
      stream_options: { include_usage: true },
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Hello?' },
      ],
    });
    expect(request.body).not.toHaveProperty('tools');
  });

  test('text split every 7 bytes (inside lines and UTF-8 sequences) streams the same answer', async () => {
    const { answer } = await run([sseStep('openai-text.sse', { chunking: 7 })]);
    expect(answer.text).toBe(transcriptText('openai-text.sse'));
    expect(answer.end?.type).toBe('complete');
  });

  test('a tool call split across chunks is accumulated, executed, and the loop continues with its result', async () => {
    weatherCalls.length = 0;
    const { frames, answer, server } = await run(
      [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
      { tools: [weather] },
    );
    expect(weatherCalls).toEqual(['Montréal']);
    const deltas = frames.filter(
      (f) =>
        'type' in f && f.type === 'metadata' && f.key === 'ai.toolCall.delta.call_DdmO9pD3xa9XTPNJ32zg2hcA',
    );
    expect(deltas.map((f) => (f as { value: string }).value).join('')).toBe('{"city":"Montréal"}');
    expect(answer.events('tool-start')).toEqual([
      {
        toolName: 'get_weather',
        arguments: { city: 'Montréal' },
        toolCallId: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
      },
    ]);
    expect(answer.events('tool-result')).toEqual([
      {
        toolName: 'get_weather',
        result: { city: 'Montréal', celsius: 21, conditions: 'sunny' },
        toolCallId: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
      },
    ]);
    expect(answer.text).toBe("It's 21°C and sunny in Montréal.");
    expect(answer.metadata.get('ai.tokens.input')).toBe(81 + 112);
    expect(answer.metadata.get('ai.tokens.output')).toBe(15 + 11);
    const order = kinds(frames);
    expect(order.indexOf('tool-start')).toBeLessThan(order.indexOf('tool-result'));
    expect(order.indexOf('tool-result')).toBeLessThan(order.indexOf('streaming-text'));
    expect(order.at(-1)).toBe('complete');
    await server.requests.next();
    const second = await server.requests.next();
    const messages = second.body!['messages'] as Record<string, unknown>[];
    expect(messages.slice(2)).toEqual([
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          {
            id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
            type: 'function',
            function: { name: 'get_weather', arguments: '{"city":"Montréal"}' },
          },
        ],
      },
      {
        role: 'tool',
        tool_call_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
        content: '{"city":"Montréal","celsius":21,"conditions":"sunny"}',
      },
    ]);
    expect((second.body!['tools'] as unknown[])[0]).toEqual({
      type: 'function',
      function: {
        name: 'get_weather',
        description: 'Current weather of a city',
        parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
      },
    });
  });

  test('parallel tool calls are accumulated by index and run in index order', async () => {
    weatherCalls.length = 0;
    const { answer } = await run(
      [sseStep('openai-parallel-tool-calls.sse', { chunking: 11 }), sseStep('openai-tool-followup.sse')],
      { tools: [weather] },
    );
    expect(weatherCalls).toEqual(['Paris', 'Tokyo']);
    expect(answer.events('tool-start').map((e) => e.toolCallId)).toEqual([
      'call_wK1rZ9xXyQ3fX6j7oJc9gP2a',
      'call_5tT8mA2bV9cL1nQ4sR7uE0yH',
    ]);
    expect(answer.metadata.get('ai.tokens.cached_input')).toBe(64);
  });

  test('invalid arguments from the model go back to it as a tool error', async () => {
    const strict = tool({
      name: 'get_weather',
      description: 'Weather',
      parameters: {
        type: 'object',
        properties: { city: { type: 'string', minLength: 20 } },
        required: ['city'],
      },
      execute: () => 'never',
    });
    const { answer, server } = await run(
      [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
      { tools: [strict] },
    );
    expect(answer.events('tool-error')).toEqual([
      {
        toolName: 'get_weather',
        error: 'Invalid arguments: $.city: must be at least 20 characters.',
        toolCallId: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
      },
    ]);
    expect(answer.events('tool-start')).toEqual([]);
    await server.requests.next();
    const second = await server.requests.next();
    expect((second.body!['messages'] as Record<string, unknown>[]).at(-1)).toEqual({
      role: 'tool',
      tool_call_id: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
      content: JSON.stringify({ error: 'Invalid arguments: $.city: must be at least 20 characters.' }),
    });
    expect(answer.end?.type).toBe('complete');
  });

  test('the tool loop stops after maxToolRounds rounds with a clear error', async () => {
    const { answer, server } = await run(
      [sseStep('openai-tool-call.sse'), sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
      {
        tools: [weather],
        maxToolRounds: 2,
      },
    );
    expect(answer.end).toMatchObject({ type: 'error', code: 'TOO_MANY_TOOL_ROUNDS' });
    expect(answer.events('tool-result')).toHaveLength(1);
    expect(server.remaining).toBe(1);
  });

  test('429 with Retry-After: waits what the provider asked, then streams', async () => {
    const { answer, delays, server } = await run([
      httpStep('openai-429-rate-limit.json'),
      sseStep('openai-text.sse'),
    ]);
    expect(delays).toEqual([1000]);
    expect(answer.end?.type).toBe('complete');
    expect(answer.text).toBe(transcriptText('openai-text.sse'));
    expect(server.requests.items).toHaveLength(2);
  });

  test('500s are retried with exponential backoff (1 s, 2 s, 4 s) and then reported as server_error', async () => {
    const fail = httpStep('openai-500-server-error.json');
    const ok = await run([fail, fail, sseStep('openai-text.sse')]);
    expect(ok.delays).toEqual([1000, 2000]);
    expect(ok.answer.end?.type).toBe('complete');
    await server!.close();
    const failed = await run([fail, fail, fail, fail, sseStep('openai-text.sse')]);
    expect(failed.delays).toEqual([1000, 2000, 4000]);
    expect(failed.server.requests.items).toHaveLength(4);
    expect(failed.answer.end).toMatchObject({ type: 'error', code: 'LLM_SERVER_ERROR' });
    expect((failed.answer.end as { data: string }).data).toContain(
      'The model API answered 500 (server_error): The server had an error',
    );
    expect(failed.answer.text).toBe('');
  });

  test('the backoff is capped, with jitter, and a Retry-After beyond the cap is not waited for', async () => {
    const { backoffDelay } = await import('../src/runtimes/openai/retry.ts');
    const limits = { maxRetries: 10, baseDelayMs: 1000, maxDelayMs: 30_000 };
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, limits, () => 0.5))).toEqual([
      1000, 2000, 4000, 8000, 16000, 30000, 30000,
    ]);
    expect(backoffDelay(1, limits, () => 0)).toBe(750);
    expect(backoffDelay(1, limits, () => 1)).toBe(1250);
    const longWait: ReplayStep = {
      kind: 'http',
      status: 429,
      headers: { 'retry-after': '120' },
      body: '{"error":{"message":"Quota exceeded","type":"insufficient_quota"}}',
    };
    const { answer, delays } = await run([longWait, sseStep('openai-text.sse')]);
    expect(delays).toEqual([]);
    expect(answer.end).toMatchObject({ type: 'error', code: 'LLM_RATE_LIMIT' });
  });

  test('a stream cut mid-way ends the answer with an error after the text it got, and is not replayed', async () => {
    const { answer, server, frames } = await run([
      sseStep('openai-cut-midway.sse', { end: 'destroy' }),
      sseStep('openai-text.sse'),
    ]);
    expect(answer.text).toBe('Hello! Atmosphere streams each token');
    expect(answer.end).toMatchObject({ type: 'error', code: 'LLM_SERVER_ERROR' });
    expect(frames.at(-1)).toBe(answer.end);
    expect(server.requests.items).toHaveLength(1);
  });

  test('a malformed chunk is skipped with a warning; the rest of the answer arrives', async () => {
    const { answer, logger } = await run([sseStep('openai-malformed-chunk.sse')]);
    expect(answer.end?.type).toBe('complete');
    expect(answer.text).toBe(transcriptText('openai-text.sse').replace(' token', ''));
    expect(
      logger.lines.filter((l) => l.level === 'warn' && l.message.includes('malformed chunk')),
    ).toHaveLength(1);
  });

  test("Gemini's OpenAI endpoint: usage on the last chunk, whole tool calls without index", async () => {
    weatherCalls.length = 0;
    const text = await run([sseStep('gemini-text.sse')], { model: 'gemini-2.5-flash' });
    expect(text.answer.text).toBe('Hello! Atmosphere streams Gemini too.');
    expect(text.answer.metadata.get('ai.tokens.total')).toBe(21);
    await server!.close();
    const tools = await run([sseStep('gemini-tool-call.sse'), sseStep('gemini-text.sse')], {
      model: 'gemini-2.5-flash',
      tools: [weather],
    });
    expect(weatherCalls).toEqual(['Montreal']);
    expect(tools.answer.events('tool-start')).toEqual([
      {
        toolName: 'get_weather',
        arguments: { city: 'Montreal' },
        toolCallId: 'function-call-15297651466014838457',
      },
    ]);
    expect(tools.answer.end?.type).toBe('complete');
  });

  test('reasoning as OpenRouter sends it (`delta.reasoning`, and both names at once) is reasoning-delta, not text', async () => {
    const chunk = (delta: Record<string, unknown>, finish: string | null = null) =>
      `data: ${JSON.stringify({ id: 'gen-1760000000-Abc', provider: 'DeepInfra', model: 'deepseek/deepseek-r1', object: 'chat.completion.chunk', created: 1_760_000_000, choices: [{ index: 0, delta, finish_reason: finish, native_finish_reason: finish, logprobs: null }] })}\n\n`;
    const body = [
      chunk({ role: 'assistant', content: '', reasoning: 'Short' }),
      chunk({ role: 'assistant', content: '', reasoning: ' answer.', reasoning_content: ' answer.' }),
      chunk({ role: 'assistant', content: 'Hi', reasoning: null }),
      chunk({ role: 'assistant', content: ' there.' }, 'stop'),
      'data: [DONE]\n\n',
    ].join('');
    const { answer, frames } = await run([{ kind: 'sse', body }]);
    expect(answer.events('reasoning-delta').map((e) => e.text)).toEqual(['Short', ' answer.']);
    expect(answer.text).toBe('Hi there.');
    expect(kinds(frames).filter((k) => k === 'reasoning-delta' || k === 'streaming-text')).toEqual([
      'reasoning-delta',
      'reasoning-delta',
      'streaming-text',
      'streaming-text',
    ]);
  });

  test('Ollama: role on every delta, usage chunk, no key needed', async () => {
    const { answer, server } = await run([sseStep('ollama-text.sse')], {
      apiKey: undefined,
      mode: 'local',
      model: 'llama3.2',
    });
    expect(answer.text).toBe("Hello! I'm running locally.");
    expect(answer.metadata.get('ai.tokens.output')).toBe(8);
    expect((await server.requests.next()).headers.authorization).toBeUndefined();
  });

  test('aborting the signal aborts the upstream request and ends the session as cancelled', async () => {
    const controller = new AbortController();
    const pending = run([sseStep('openai-text.sse', { pauseAfter: 4 })], { signal: controller.signal });
    await new Promise<void>((resolve) => {
      const check = (): void => (server ? resolve() : void setImmediate(check));
      check();
    });
    await server!.requests.next();
    controller.abort();
    const { answer } = await pending;
    expect(await server!.aborts.next()).toBe(0);
    expect(answer.end).toMatchObject({ type: 'error', code: 'CANCELLED' });
  });

  test('connect and request timeouts are classified as timeout', async () => {
    const silent = createServer(() => {
      // never answers
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const { answer, delays } = await run([], {
        baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/v1`,
        connectTimeoutMs: 100,
        retry: { maxRetries: 1 },
      });
      expect(delays).toEqual([1000]);
      expect(answer.end).toMatchObject({ type: 'error', code: 'LLM_TIMEOUT' });
      expect((answer.end as { data: string }).data).toContain('connectTimeoutMs');
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
    const slow = await run([sseStep('openai-text.sse', { pauseAfter: 3 })], { requestTimeoutMs: 300 });
    expect(slow.answer.end).toMatchObject({ type: 'error', code: 'LLM_TIMEOUT' });
    expect(slow.answer.text).toBe('Hello!');
    expect(slow.server.requests.items).toHaveLength(1);
  });

  test('the API key never reaches a frame or a log line, even when the provider echoes it', async () => {
    const echo: ReplayStep = {
      kind: 'http',
      status: 401,
      body: JSON.stringify({
        error: {
          message: `Incorrect API key provided: ${KEY}.`,
          type: 'invalid_request_error',
          code: 'invalid_api_key',
        },
      }),
    };
    const { frames, logger, answer } = await run([echo]);
    const everything = JSON.stringify(frames) + JSON.stringify(logger.lines);
    expect(everything).not.toContain(KEY);
    expect(everything).not.toContain('9f8e7d6c5b4a3f2e1d0cSECRET');
    expect(answer.end).toMatchObject({ type: 'error', code: 'LLM_FAILED' });
    expect((answer.end as { data: string }).data).toContain('Check LLM_API_KEY');
    await server!.close();
    const masked = await run([httpStep('openai-401-invalid-key.json')]);
    expect((masked.answer.end as { data: string }).data).toMatch(
      /^The model API answered 401 \(invalid_request_error\): Incorrect API key provided: \[redacted\]/,
    );
    expect(transcript('openai-401-invalid-key.json')).toContain('sk-proj-');
  });

  test('structured output asks for JSON mode with the schema', async () => {
    server = await startReplayServer([sseStep('openai-structured.sse')]);
    const runtime = openAiRuntime({ env: {}, apiKey: KEY, model: 'gpt-4o-mini', baseUrl: server.baseUrl });
    const { session } = collectingSession();
    const jsonSchema: JsonSchema = {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
    };
    await runtime.execute(
      createAgentContext({ message: 'x', session, responseFormat: { name: 'Weather', jsonSchema } }),
      session,
      session.signal,
    );
    expect((await server.requests.next()).body!['response_format']).toEqual({
      type: 'json_schema',
      json_schema: { name: 'Weather', schema: jsonSchema },
    });
  });
});
