import '@atmosphere/ai/register';
import '../src/register.ts';
import { aiEndpoint, tool } from '@atmosphere/ai';
import { createAgentContext } from '@atmosphere/ai/spi';
import { collectingSession, connectAiClient } from '@atmosphere/ai/testing';
import type { AiEventFrame, AiFrame } from '@atmosphere/protocol';
import { registry } from '@atmosphere/runtime/spi';
import { startForSelection } from '@atmosphere/runtime/testing';
import { GoogleGenAI } from '@google/genai';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { GoogleGenAiRuntime } from '../src/index.ts';
import { fixture, type GeminiServer, startGeminiServer } from './gemini-server.ts';

const KEY = 'AIzaSyD-test-key-5f4e3d2c1b0a99887766';
let server: GeminiServer;
beforeAll(async () => {
  server = await startGeminiServer();
});
afterAll(async () => {
  registry.unregister('agent-runtime', 'google-genai');
  await server.close();
});

const runtime = (options: Partial<ConstructorParameters<typeof GoogleGenAiRuntime>[0]> = {}) =>
  new GoogleGenAiRuntime({ env: {}, apiKey: KEY, baseUrl: server.baseUrl, attempts: 1, ...options });

const weather = (calls: unknown[], requiresApproval = false) =>
  tool({
    name: 'get_weather',
    description: 'The weather in a city.',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' } },
      required: ['city'],
      additionalProperties: false,
    },
    requiresApproval,
    execute: (args) => {
      const city = (args as { city: string }).city;
      calls.push(city);
      return { city, celsius: city === 'Paris' ? 18 : 21 };
    },
  });

async function run(
  message: string,
  extra: Partial<Parameters<typeof createAgentContext>[0]> = {},
  target = runtime(),
) {
  const { session, frames } = collectingSession();
  await target.execute(
    createAgentContext({ message, session, ...extra }),
    session,
    new AbortController().signal,
  );
  return frames.items;
}

describe('the Google GenAI runtime against replayed Gemini streams', () => {
  test('a turn of two function calls cut across TCP writes: both run, results go back with the signature', async () => {
    server.enqueue(
      { kind: 'sse', body: fixture('gemini-parallel-calls.sse'), chunkBytes: 7 },
      { kind: 'sse', body: fixture('gemini-parallel-followup.sse'), chunkBytes: 5 },
    );
    const before = server.requests.items.length;
    const calls: unknown[] = [];
    const frames = await run('Weather in Montreal and Paris?', {
      systemPrompt: 'You report the weather.',
      tools: [weather(calls)],
    });
    expect(frames.at(-1)?.type).toBe('complete');
    expect(calls).toEqual(['Montreal', 'Paris']);
    const text = frames.flatMap((f) => (f.type === 'streaming-text' ? [f.data] : [])).join('');
    expect(text).toBe('Montreal: 21°C. Paris: 18°C.');
    const deltas = frames.flatMap((f) =>
      f.type === 'metadata' && f.key.startsWith('ai.toolCall.delta.') ? [[f.key, f.value]] : [],
    );
    expect(deltas).toEqual([
      ['ai.toolCall.delta.call_1_0', '{"city":"Montreal"}'],
      ['ai.toolCall.delta.call_1_1', '{"city":"Paris"}'],
    ]);
    const metadata = new Map(frames.flatMap((f) => (f.type === 'metadata' ? [[f.key, f.value]] : [])));
    expect(metadata.get('ai.tokens.input')).toBe(200);
    expect(metadata.get('ai.tokens.output')).toBe(70 + 12);
    expect(metadata.get('ai.tokens.cached_input')).toBe(64);

    const [first, second] = server.requests.items.slice(before);
    expect(first?.path).toMatch(/^\/v1(beta)?\/models\/gemini-2\.5-flash:streamGenerateContent\?alt=sse$/);
    expect(first?.apiKey).toBe(KEY);
    expect(first?.body['systemInstruction']).toMatchObject({ parts: [{ text: 'You report the weather.' }] });
    expect(first?.body['tools']).toEqual([
      {
        functionDeclarations: [
          {
            name: 'get_weather',
            description: 'The weather in a city.',
            parametersJsonSchema: {
              type: 'object',
              properties: { city: { type: 'string' } },
              required: ['city'],
              additionalProperties: false,
            },
          },
        ],
      },
    ]);
    const contents = second?.body['contents'] as { role: string; parts: Record<string, unknown>[] }[];
    expect(contents.map((c) => c.role)).toEqual(['user', 'model', 'user']);
    expect(contents[1]?.parts[0]).toMatchObject({
      functionCall: { name: 'get_weather', args: { city: 'Montreal' } },
      thoughtSignature: expect.stringMatching(/^CiIB/),
    });
    expect(contents[2]?.parts).toEqual([
      {
        functionResponse: {
          id: 'call_1_0',
          name: 'get_weather',
          response: { output: JSON.stringify({ city: 'Montreal', celsius: 21 }) },
        },
      },
      {
        functionResponse: {
          id: 'call_1_1',
          name: 'get_weather',
          response: { output: JSON.stringify({ city: 'Paris', celsius: 18 }) },
        },
      },
    ]);
  });

  test('includeThoughts asks for thought summaries and declares reasoning-deltas; without it, neither', async () => {
    expect(runtime().capabilities.has('reasoning-deltas')).toBe(false);
    const thinking = runtime({ includeThoughts: true });
    expect(thinking.capabilities.has('reasoning-deltas')).toBe(true);
    server.enqueue(
      { kind: 'sse', body: fixture('gemini-text.sse') },
      { kind: 'sse', body: fixture('gemini-text.sse') },
    );
    const config = () => server.requests.items.at(-1)?.body['generationConfig'] as Record<string, unknown>;
    expect((await run('Hi', {}, thinking)).at(-1)?.type).toBe('complete');
    expect(config()['thinkingConfig']).toEqual({ includeThoughts: true });
    expect((await run('Hi')).at(-1)?.type).toBe('complete');
    expect(config()?.['thinkingConfig']).toBeUndefined();
  });

  test('thought summaries become reasoning-delta events, never answer text', async () => {
    const line = (parts: unknown[], finishReason?: string) =>
      `data: ${JSON.stringify({ candidates: [{ content: { parts, role: 'model' }, index: 0, ...(finishReason ? { finishReason } : {}) }], modelVersion: 'gemini-2.5-flash' })}\r\n\r\n`;
    server.enqueue({
      kind: 'sse',
      body:
        line([{ text: '**Weighing the options**', thought: true }]) +
        line([{ text: 'Take the train.' }], 'STOP'),
    });
    const frames = await run('Train or plane?');
    expect(frames.flatMap((f) => (f.type === 'streaming-text' ? [f.data] : []))).toEqual(['Take the train.']);
    expect(
      frames.flatMap((f) => (f.type === 'event' && f.event === 'reasoning-delta' ? [f.data] : [])),
    ).toEqual([{ text: '**Weighing the options**' }]);
    expect(frames.at(-1)?.type).toBe('complete');
  });

  test('a blocked prompt ends the answer with an error naming the reason', async () => {
    server.enqueue({ kind: 'sse', body: fixture('gemini-prompt-blocked.sse') });
    const frames = await run('Something dangerous');
    expect(frames.at(-1)).toMatchObject({
      type: 'error',
      code: 'LLM_FAILED',
      data: expect.stringContaining('Gemini blocked the prompt (SAFETY)'),
    });
  });

  test('an answer stopped for safety keeps the text sent and ends with an error', async () => {
    server.enqueue({ kind: 'sse', body: fixture('gemini-safety-stop.sse') });
    const frames = await run('How do I…');
    expect(
      frames.filter((f) => f.type === 'streaming-text').map((f) => f.type === 'streaming-text' && f.data),
    ).toEqual(['Here is how to']);
    expect(frames.at(-1)).toMatchObject({
      type: 'error',
      data: expect.stringContaining('Gemini stopped the answer (finish reason SAFETY)'),
    });
  });

  test.each([
    [429, 'gemini-429.json', 'LLM_RATE_LIMIT'],
    [500, 'gemini-500.json', 'LLM_SERVER_ERROR'],
  ])('HTTP %i (%s) becomes %s after one attempt; the key appears nowhere', async (status, file, code) => {
    server.enqueue({ kind: 'http', status, body: fixture(file) });
    const before = server.requests.items.length;
    const frames = await run('Hi');
    expect(frames.at(-1)).toMatchObject({
      type: 'error',
      code,
      data: expect.stringContaining(String(status)),
    });
    expect(server.requests.items.length - before).toBe(1);
    expect(JSON.stringify(frames)).not.toContain(KEY);
  });

  test('a 500 is retried when attempts allow, and the retry answers', async () => {
    server.enqueue(
      { kind: 'http', status: 500, body: fixture('gemini-500.json') },
      { kind: 'sse', body: fixture('gemini-text.sse') },
    );
    const frames = await run('Hi', {}, runtime({ attempts: 2 }));
    expect(frames.at(-1)?.type).toBe('complete');
    expect(frames.flatMap((f) => (f.type === 'streaming-text' ? [f.data] : [])).join('')).toBe(
      'Hello from the contract suite.',
    );
  });

  test('structured output sends the JSON mime type and the schema, as responseJsonSchema or responseSchema', async () => {
    const schema = {
      type: 'object',
      properties: { city: { type: 'string' }, celsius: { type: 'number' } },
    } as const;
    for (const schemaField of ['responseJsonSchema', 'responseSchema'] as const) {
      server.enqueue({ kind: 'sse', body: fixture('gemini-structured.sse') });
      const before = server.requests.items.length;
      const frames = await run(
        'Weather as JSON',
        { responseFormat: { name: 'Weather', jsonSchema: schema } },
        runtime({ schemaField }),
      );
      expect(frames.at(-1)?.type).toBe('complete');
      const config = server.requests.items[before]?.body['generationConfig'] as Record<string, unknown>;
      expect(config['responseMimeType']).toBe('application/json');
      expect(config[schemaField]).toBeDefined();
    }
  });
});

describe('behind an AI endpoint, selected from the environment', () => {
  test('without a key the runtime says why it lost; with GEMINI_API_KEY it wins', async () => {
    const without = await startForSelection('agent-runtime', {});
    await without.atmosphere.close();
    expect(without.line).toContain(
      'google-genai: unavailable — no Gemini API key: set GEMINI_API_KEY or GOOGLE_API_KEY, or pass googleGenAi({ apiKey }) or googleGenAi({ client })',
    );
    expect(without.line).toMatch(/^agent-runtime: demo selected/);
    const configured = await startForSelection(
      'agent-runtime',
      { GEMINI_API_KEY: KEY },
      { geminiBaseUrl: server.baseUrl },
    );
    try {
      expect(configured.line).toMatch(
        /^agent-runtime: google-genai selected \(highest priority of the available candidates \(100\)\)/,
      );
      expect(configured.line).toContain(
        'built-in: outranked — outranked by google-genai (priority 100 vs 0)',
      );
      expect(JSON.stringify(configured.logger.lines)).not.toContain(KEY);
    } finally {
      await configured.atmosphere.close();
    }
  });

  test('an approval gates the call over WebSocket; stopping a slow answer aborts the request upstream', async () => {
    const { atmosphere } = await startForSelection(
      'agent-runtime',
      { GEMINI_API_KEY: KEY },
      { geminiBaseUrl: server.baseUrl },
    );
    const calls: unknown[] = [];
    const endpoint = aiEndpoint(atmosphere, { path: '/ai/gemini', tools: [weather(calls, true)] });
    const client = await connectAiClient(atmosphere.url('/ai/gemini'), 'websocket');
    try {
      server.enqueue(
        { kind: 'sse', body: fixture('gemini-parallel-calls.sse') },
        { kind: 'sse', body: fixture('gemini-parallel-followup.sse') },
      );
      await client.prompt('Weather in Montreal and Paris?');
      const firstAsk = (await client.waitFor(
        (f) => f.type === 'event' && f.event === 'approval-required',
      )) as AiEventFrame<'approval-required'>;
      expect(calls).toEqual([]);
      await client.approve(firstAsk.data.approvalId);
      const secondAsk = (await client.waitFor(
        (f) => f.type === 'event' && f.event === 'approval-required',
      )) as AiEventFrame<'approval-required'>;
      await client.deny(secondAsk.data.approvalId);
      const answer = await client.answer();
      expect(answer.end?.type).toBe('complete');
      expect(calls).toEqual(['Montreal']);
      expect(answer.events('tool-error').map((e) => e.toolName)).toEqual(['get_weather']);

      const story = Array.from(
        { length: 300 },
        (_, i) =>
          `data: ${JSON.stringify({ candidates: [{ content: { parts: [{ text: `w${i} ` }], role: 'model' }, index: 0 }] })}\r\n\r\n`,
      ).join('');
      server.enqueue({ kind: 'sse', body: story, pauseAfter: 2 });
      const index = server.requests.items.length;
      await client.prompt('A long story');
      const runId = await client.waitFor((f) => f.type === 'metadata' && f.key === 'X-Atmosphere-Run-Id');
      await client.waitFor((f) => f.type === 'streaming-text' && f.sessionId === runId.sessionId);
      await client.stop(String(runId.type === 'metadata' && runId.value));
      const stopped = await client.answer(runId.sessionId);
      expect(stopped.end).toMatchObject({ type: 'complete', reason: 'stopped' });
      expect(await server.aborts.waitFor((i) => i === index)).toBe(index);
    } finally {
      server.release();
      await client.close();
      await endpoint.close();
      await atmosphere.close();
    }
  });
});

describe('Vertex AI: function-call arguments streamed in pieces (partialArgs)', () => {
  const vertex = () =>
    new GoogleGenAiRuntime({
      env: {},
      client: new GoogleGenAI({ vertexai: true, apiKey: KEY, httpOptions: { baseUrl: server.baseUrl } }),
      model: 'gemini-3-pro-preview',
      streamFunctionCallArguments: true,
    });
  const deltasByCall = (frames: readonly AiFrame[]) => {
    const byCall: Record<string, string[]> = {};
    for (const f of frames)
      if (f.type === 'metadata' && f.key.startsWith('ai.toolCall.delta.'))
        (byCall[f.key.slice('ai.toolCall.delta.'.length)] ??= []).push(String(f.value));
    return byCall;
  };

  test('two calls of one turn, split across small writes: deltas before each call, joined its arguments; whole calls go back', async () => {
    server.enqueue(
      { kind: 'sse', body: fixture('vertex-streamed-args.sse'), chunkBytes: 11 },
      { kind: 'sse', body: fixture('gemini-parallel-followup.sse'), chunkBytes: 5 },
    );
    const before = server.requests.items.length;
    const calls: unknown[] = [];
    const frames = await run('Weather in Montréal and Paris?', { tools: [weather(calls)] }, vertex());
    expect(frames.at(-1)?.type).toBe('complete');
    expect(calls).toEqual(['Montréal', 'Paris']);
    expect(deltasByCall(frames)).toEqual({
      call_1_0: ['{"city":"Mont', 'réal"', '}'],
      call_1_1: ['{"city":"Paris"', '}'],
    });
    const starts = frames.filter(
      (f): f is AiEventFrame<'tool-start'> => f.type === 'event' && f.event === 'tool-start',
    );
    expect(starts.map((f) => [f.data.toolCallId, f.data.arguments])).toEqual([
      ['call_1_0', { city: 'Montréal' }],
      ['call_1_1', { city: 'Paris' }],
    ]);
    const lastDelta = frames.findLastIndex(
      (f) => f.type === 'metadata' && f.key.startsWith('ai.toolCall.delta.'),
    );
    expect(lastDelta).toBeLessThan(frames.indexOf(starts[0]!));

    const [first, second] = server.requests.items.slice(before);
    expect(first?.path).toMatch(
      /\/publishers\/google\/models\/gemini-3-pro-preview:streamGenerateContent\?alt=sse$/,
    );
    expect(first?.body['toolConfig']).toEqual({
      functionCallingConfig: { streamFunctionCallArguments: true },
    });
    const contents = second?.body['contents'] as { role: string; parts: Record<string, unknown>[] }[];
    expect(contents[1]).toEqual({
      role: 'model',
      parts: [
        {
          functionCall: { name: 'get_weather', args: { city: 'Montréal' } },
          thoughtSignature: expect.stringMatching(/^CiQB/),
        },
        { functionCall: { name: 'get_weather', args: { city: 'Paris' } } },
      ],
    });
  });

  test('a stream that ends inside a call’s arguments is an error, and the call does not run', async () => {
    const cut =
      fixture('vertex-streamed-args.sse').split('\r\n\r\n').slice(0, 2).join('\r\n\r\n') + '\r\n\r\n';
    server.enqueue({ kind: 'sse', body: cut, chunkBytes: 13 });
    const calls: unknown[] = [];
    const frames = await run('Weather in Montréal?', { tools: [weather(calls)] }, vertex());
    expect(calls).toEqual([]);
    expect(deltasByCall(frames)).toEqual({ call_1_0: ['{"city":"Mont'] });
    expect(frames.at(-1)).toMatchObject({
      type: 'error',
      data: expect.stringContaining('ended inside the arguments of a call to get_weather'),
    });
  });

  test('without the option no streaming is asked for, and a whole call is one delta', async () => {
    server.enqueue(
      { kind: 'sse', body: fixture('gemini-function-call.sse') },
      { kind: 'sse', body: fixture('gemini-function-followup.sse') },
    );
    const echo = tool({
      name: 'contract_echo',
      description: 'Echoes.',
      parameters: { type: 'object', properties: { value: { type: 'string' } } },
      execute: () => 'pong',
    });
    const frames = await run('Echo ping', { tools: [echo] });
    expect(server.requests.items.at(-2)?.body['toolConfig']).toBeUndefined();
    expect(Object.values(deltasByCall(frames))).toEqual([['{"value":"ping"}']]);
  });
});
