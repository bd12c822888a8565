import { aiEndpoint, openAiRuntime, tool } from '@atmosphere/ai';
import { connectAiClient, openAiTranscript, startReplayServer } from '@atmosphere/ai/testing';
import { TestScope, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { metrics, metricsHandler, tracing } from '../src/index.ts';
import { histogramSample, sampleValue } from '../src/testing/index.ts';
import { inMemoryTracing, named, parentOf, replayedOpenAi } from './tracing-support.ts';

describe('one AI answer, measured and traced', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test('the built-in runtime on the replay server: the span tree message → chat → execute_tool, and exact counts on /metrics', async () => {
    const otel = inMemoryTracing();
    scope.track({ close: () => otel.close() });
    const replay = await startReplayServer([
      {
        kind: 'sse',
        body: openAiTranscript({
          toolCalls: [{ id: 'call_weather_1', name: 'weather', arguments: ['{"city":', '"Paris"}'] }],
          usage: { prompt: 40, completion: 9 },
        }),
      },
      {
        kind: 'sse',
        body: openAiTranscript({ text: ['Sunny', ' in Paris.'], usage: { prompt: 60, completion: 4 } }),
      },
    ]);
    scope.track(replay);
    const registry = new Registry();
    const atmosphere = await startTestAtmosphere({
      providers: [metrics({ registry }), tracing({ tracer: otel.provider.getTracer('test') })],
    });
    scope.track({ close: () => atmosphere.close() });
    atmosphere.handle('/metrics', metricsHandler(registry));
    const endpoint = aiEndpoint(atmosphere, {
      path: '/ai/chat',
      runtime: replayedOpenAi(replay.baseUrl),
      model: 'gpt-4o-mini',
      tools: [
        tool({
          name: 'weather',
          description: 'The weather in a city',
          parameters: {
            type: 'object',
            properties: { city: { type: 'string' } },
            required: ['city'],
          },
          execute: ({ city }: { city: string }) => ({ city, sky: 'sunny' }),
        }),
      ],
    });
    scope.track(endpoint);

    const client = await connectAiClient(atmosphere.url('/ai/chat'));
    scope.track(client);
    await client.prompt('What is the weather in Paris?');
    const answer = await client.answer();
    expect(answer.text).toBe('Sunny in Paris.');

    // Spans: the inbound message is the root of the answer; the run is its child, the tool call the run's.
    const spans = otel.exporter.getFinishedSpans();
    const [message] = named(spans, 'atmosphere.message');
    const [run] = named(spans, 'chat gpt-4o-mini');
    const [toolCall] = named(spans, 'execute_tool weather');
    expect(message).toBeDefined();
    expect(run).toBeDefined();
    expect(toolCall).toBeDefined();
    expect(named(spans, 'atmosphere.message')).toHaveLength(1);
    expect(named(spans, 'chat gpt-4o-mini')).toHaveLength(1);
    expect(named(spans, 'execute_tool weather')).toHaveLength(1);
    expect(parentOf(message!)).toBeUndefined();
    expect(parentOf(run!)).toBe(message!.spanContext().spanId);
    expect(parentOf(toolCall!)).toBe(run!.spanContext().spanId);
    expect(new Set([message!, run!, toolCall!].map((span) => span.spanContext().traceId)).size).toBe(1);
    expect(message!.attributes).toMatchObject({
      'atmosphere.resource.uuid': client.client.trackingId,
      'atmosphere.transport': 'websocket',
      'atmosphere.action': 'message',
      'atmosphere.broadcaster': '/ai/chat',
    });
    expect(run!.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.provider.name': 'built-in',
      'gen_ai.request.model': 'gpt-4o-mini',
      'gen_ai.usage.input_tokens': 100,
      'gen_ai.usage.output_tokens': 13,
      'atmosphere.resource.uuid': client.client.trackingId,
    });
    expect(toolCall!.attributes).toMatchObject({
      'gen_ai.operation.name': 'execute_tool',
      'gen_ai.tool.name': 'weather',
      'gen_ai.tool.call.id': 'call_weather_1',
    });
    const [connect] = named(spans, 'atmosphere.connect');
    expect(connect?.attributes).toMatchObject({
      'atmosphere.resource.uuid': client.client.trackingId,
      'atmosphere.transport': 'websocket',
      'atmosphere.action': 'connect',
    });

    // Metrics, as Prometheus scrapes them.
    const response = await fetch(atmosphere.url('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe(registry.contentType);
    const text = await response.text();
    const labels = 'gen_ai_provider_name="built-in",gen_ai_request_model="gpt-4o-mini"';
    expect(text).toContain(`atmosphere_ai_prompts_total{${labels}} 1\n`);
    expect(text).toContain(`atmosphere_ai_tokens_total{${labels},gen_ai_token_type="input"} 100\n`);
    expect(text).toContain(`atmosphere_ai_tokens_total{${labels},gen_ai_token_type="output"} 13\n`);
    expect(text).toContain(`atmosphere_ai_tool_calls_total{gen_ai_tool_name="weather",outcome="ok"} 1\n`);
    expect(text).toContain('atmosphere_ai_runs_active 0\n');
    expect(text).not.toContain('atmosphere_ai_errors_total{');
    const model = { gen_ai_provider_name: 'built-in', gen_ai_request_model: 'gpt-4o-mini' };
    expect((await histogramSample(registry, 'gen_ai_server_time_to_first_token_seconds', model))?.count).toBe(
      1,
    );
    expect(
      (
        await histogramSample(registry, 'gen_ai_client_operation_duration_seconds', {
          ...model,
          error_type: '',
        })
      )?.count,
    ).toBe(1);
    expect(
      await histogramSample(registry, 'gen_ai_client_token_usage', { ...model, gen_ai_token_type: 'input' }),
    ).toEqual({ count: 1, sum: 100 });
    expect(
      (
        await histogramSample(registry, 'atmosphere_ai_tool_duration_seconds', {
          gen_ai_tool_name: 'weather',
        })
      )?.count,
    ).toBe(1);
    expect(await sampleValue(registry, 'atmosphere_connections_total', { transport: 'websocket' })).toBe(1);
  });

  test('pricing: each run costed at its model price on atmosphere_ai_cost_usd_total, exact dollars; an unpriced model is not', async () => {
    const replay = await startReplayServer([
      { kind: 'sse', body: openAiTranscript({ text: ['One.'], usage: { prompt: 1200, completion: 300 } }) },
      { kind: 'sse', body: openAiTranscript({ text: ['Two.'], usage: { prompt: 800, completion: 700 } }) },
      { kind: 'sse', body: openAiTranscript({ text: ['Three.'], usage: { prompt: 5, completion: 5 } }) },
    ]);
    scope.track(replay);
    const registry = new Registry();
    const atmosphere = scope.track(await startTestAtmosphere({ providers: [metrics({ registry })] }));
    const runtime = replayedOpenAi(replay.baseUrl);
    const pricing = { 'gpt-4o-mini': { input: 0.15, output: 0.6 }, 'gpt-4o': { input: 2.5, output: 10 } };
    scope.track(aiEndpoint(atmosphere, { path: '/ai/mini', runtime, model: 'gpt-4o-mini', pricing }));
    scope.track(aiEndpoint(atmosphere, { path: '/ai/big', runtime, model: 'gpt-4o', pricing }));
    scope.track(aiEndpoint(atmosphere, { path: '/ai/free', runtime, model: 'local-llama', pricing }));
    for (const [path, text] of [
      ['/ai/mini', 'One.'],
      ['/ai/big', 'Two.'],
      ['/ai/free', 'Three.'],
    ] as const) {
      const client = scope.track(await connectAiClient(atmosphere.url(path)));
      await client.prompt('Go');
      expect((await client.answer()).text).toBe(text);
    }
    const labels = (model: string) => ({ gen_ai_provider_name: 'built-in', gen_ai_request_model: model });
    // 1 200 input tokens at $0.15/M and 300 output at $0.60/M; 800 at $2.50/M and 700 at $10/M.
    expect(await sampleValue(registry, 'atmosphere_ai_cost_usd_total', labels('gpt-4o-mini'))).toBeCloseTo(
      0.00036,
      12,
    );
    expect(await sampleValue(registry, 'atmosphere_ai_cost_usd_total', labels('gpt-4o'))).toBeCloseTo(
      0.009,
      12,
    );
    expect(
      await sampleValue(registry, 'atmosphere_ai_cost_usd_total', labels('local-llama')),
    ).toBeUndefined();
    expect(
      await sampleValue(registry, 'atmosphere_ai_tokens_total', {
        ...labels('local-llama'),
        gen_ai_token_type: 'input',
      }),
    ).toBe(5);
  });

  test('a price that is negative or not a number fails aiEndpoint with INVALID_OPTION', async () => {
    const atmosphere = scope.track(
      await startTestAtmosphere({ providers: [metrics({ registry: new Registry() })] }),
    );
    const runtime = openAiRuntime({
      env: {},
      apiKey: 'sk-test-observability-0123456789',
      baseUrl: 'http://127.0.0.1:9',
    });
    expect(() =>
      aiEndpoint(atmosphere, { path: '/ai/bad', runtime, pricing: { m: { input: -1, output: 1 } } }),
    ).toThrow(/INVALID_OPTION|input price of m must be a finite number/);
    expect(() =>
      aiEndpoint(atmosphere, {
        path: '/ai/bad',
        runtime,
        pricing: { m: { input: 1, output: Number.NaN } },
      }),
    ).toThrow(/output price of m must be a finite number/);
  });
});
