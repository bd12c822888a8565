import { aiEndpoint } from '@atmosphere/ai';
import { connectAiClient, openAiTranscript, startReplayServer } from '@atmosphere/ai/testing';
import { TestScope, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, expect, test } from 'vitest';
import { metrics, tracing } from '../src/index.ts';
import { inMemoryTracing, replayedOpenAi } from './tracing-support.ts';

/**
 * What was recorded, as `name{labels}` → value: every counter, and each histogram's count (how many
 * observations), not its sums or buckets (the durations and sizes measured). Gauges are left out: they are read
 * when the registry is collected, nothing records them.
 */
async function observations(registry: Registry): Promise<Map<string, number>> {
  const samples = new Map<string, number>();
  for (const metric of await registry.getMetricsAsJSON()) {
    if (String(metric.type) === 'gauge') continue;
    for (const value of metric.values as { metricName?: string; labels: object; value: number }[]) {
      const name = value.metricName ?? metric.name;
      if (String(metric.type) === 'histogram' && !name.endsWith('_count')) continue;
      samples.set(`${name}${JSON.stringify(value.labels)}`, value.value);
    }
  }
  return samples;
}

function grewBy(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const growth = new Map<string, number>();
  for (const [key, value] of after) growth.set(key, value - (before.get(key) ?? 0));
  return growth;
}

/**
 * What grows with the answer: the counts of its tokens (and what is costed from them), and its frames, each a
 * broadcast (counted, and one in 16 timed). Nothing else may.
 */
const TOKEN_SIZED =
  /^(atmosphere_ai_tokens_total|atmosphere_ai_cost_usd_total|gen_ai_client_token_usage|atmosphere_messages_(broadcast|delivered)_total|atmosphere_broadcast_duration_seconds)/;

const scope = new TestScope();
afterEach(() => scope.close());

test('the observability of an AI answer grows with its tokens only by counting them: 2 000 tokens make the same spans as 20, and one in 16 frames is timed', async () => {
  const otel = inMemoryTracing();
  scope.track({ close: () => otel.close() });
  const words = (count: number): string[] => Array.from({ length: count }, (_, i) => `w${i} `);
  const replay = scope.track(
    await startReplayServer([
      { kind: 'sse', body: openAiTranscript({ text: words(20), usage: { prompt: 10, completion: 20 } }) },
      { kind: 'sse', body: openAiTranscript({ text: words(2000), usage: { prompt: 10, completion: 2000 } }) },
    ]),
  );
  const registry = new Registry();
  const atmosphere = scope.track(
    await startTestAtmosphere({
      providers: [metrics({ registry }), tracing({ tracer: otel.provider.getTracer('test') })],
    }),
  );
  scope.track(
    aiEndpoint(atmosphere, {
      path: '/ai/chat',
      runtime: replayedOpenAi(replay.baseUrl),
      model: 'gpt-4o-mini',
    }),
  );
  const client = scope.track(await connectAiClient(atmosphere.url('/ai/chat')));

  const answer = async (tokens: number) => {
    const spansBefore = otel.exporter.getFinishedSpans().length;
    const before = await observations(registry);
    await client.prompt(`Count to ${tokens}.`);
    const text = (await client.answer()).text;
    expect(text).toBe(words(tokens).join(''));
    const spans = otel.exporter
      .getFinishedSpans()
      .slice(spansBefore)
      .map((span) => span.name)
      .sort();
    return { spans, grew: grewBy(before, await observations(registry)) };
  };
  const short = await answer(20);
  const long = await answer(2000);

  // The same spans for each answer — none per token.
  expect(short.spans.length).toBeGreaterThan(0);
  expect(long.spans).toEqual(short.spans);
  // The same observations, but for what counts the tokens themselves.
  expect([...long.grew.keys()].sort()).toEqual([...short.grew.keys()].sort());
  let tokenSized = 0;
  for (const [key, growth] of long.grew) {
    if (TOKEN_SIZED.test(key)) {
      tokenSized++;
      continue;
    }
    expect({ key, growth }).toEqual({ key, growth: short.grew.get(key) });
  }
  expect(tokenSized).toBeGreaterThan(0);
  // Each frame is one broadcast to the asker, counted; the first broadcast and then one in 16 is timed.
  const broadcastsOf = (grew: Map<string, number>) => grew.get('atmosphere_messages_broadcast_total{}')!;
  expect(broadcastsOf(long.grew) - broadcastsOf(short.grew)).toBe(2000 - 20);
  const all = await observations(registry);
  const broadcasts = all.get('atmosphere_messages_broadcast_total{}')!;
  expect(broadcasts).toBeGreaterThan(2020);
  expect(all.get('atmosphere_broadcast_duration_seconds_count{}')).toBe(Math.ceil(broadcasts / 16));
});
