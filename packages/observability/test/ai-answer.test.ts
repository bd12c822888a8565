import { aiEndpoint, openAiRuntime, tool } from '@atmosphere/ai';
import { connectAiClient, openAiTranscript, startReplayServer } from '@atmosphere/ai/testing';
import { TestScope, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { metrics, metricsHandler, tracing } from '../src/index.ts';
import { histogramSample, sampleValue } from '../src/testing/index.ts';
import { inMemoryTracing, named, parentOf } from './tracing-support.ts';

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
      runtime: openAiRuntime({
        env: {},
        apiKey: 'sk-test-observability-0123456789',
        model: 'gpt-4o-mini',
        baseUrl: replay.baseUrl,
        retry: { maxRetries: 0 },
      }),
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
});
