import { type Attributes, type Context, type SpanOptions, trace, type Tracer } from '@opentelemetry/api';
import { AtmosphereError } from '@atmosphere/runtime';
import { startTestAtmosphere, TestScope } from '@atmosphere/runtime/testing';
import {
  type ReadableSpan,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { afterEach, describe, expect, test } from 'vitest';
import { tracing } from '../src/index.ts';
import { OpenTelemetryTracing } from '../src/opentelemetry-tracing.ts';
import { inMemoryTracing, named, parentOf } from './tracing-support.ts';

/**
 * A parent-based sampler (as the SDK's default): a span with a parent follows its parent's sampled flag; a
 * root span is sampled only when it is named `test.sampled`. It keeps the name of every span it was asked
 * about, in order.
 */
class NamedRootSampler implements Sampler {
  readonly asked: string[] = [];

  shouldSample(context: Context, _traceId: string, name: string): SamplingResult {
    this.asked.push(name);
    const parent = trace.getSpanContext(context);
    const sampled = parent !== undefined ? (parent.traceFlags & 1) === 1 : name === 'test.sampled';
    return { decision: sampled ? SamplingDecision.RECORD_AND_SAMPLED : SamplingDecision.NOT_RECORD };
  }

  toString(): string {
    return 'NamedRootSampler';
  }
}

/** A tracer that hands every call to the SDK's and keeps the attributes object each span was started with. */
function observed(tracer: Tracer): { tracer: Tracer; attributes: (Attributes | undefined)[] } {
  const attributes: (Attributes | undefined)[] = [];
  return {
    attributes,
    tracer: {
      startSpan(name: string, options?: SpanOptions, context?: Context) {
        attributes.push(options?.attributes);
        return tracer.startSpan(name, options, context);
      },
      startActiveSpan: ((...args: Parameters<Tracer['startActiveSpan']>) =>
        tracer.startActiveSpan(...args)) as Tracer['startActiveSpan'],
    },
  };
}

/** The one sampled trace: `test.sampled` and, under it, the broadcast's span with every attribute. */
function expectOnlyTheSampledBroadcast(spans: readonly ReadableSpan[]): void {
  expect(spans.map((span) => span.name)).toEqual(['atmosphere.broadcast', 'test.sampled']);
  const [broadcast] = named(spans, 'atmosphere.broadcast');
  expect(parentOf(broadcast!)).toBe(named(spans, 'test.sampled')[0]!.spanContext().spanId);
  expect(broadcast!.attributes).toEqual({
    'atmosphere.broadcaster': '/feed',
    'atmosphere.action': 'broadcast',
    'atmosphere.fanout': 0,
  });
}

describe('broadcasts of unsampled traces', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  async function setUp(broadcastSpans?: 'always' | 'in-sampled-trace') {
    const sampler = new NamedRootSampler();
    const otel = inMemoryTracing({ sampler });
    scope.track({ close: () => otel.close() });
    const tracer = observed(otel.provider.getTracer('test'));
    const atmosphere = scope.track(
      await startTestAtmosphere({
        providers: [tracing({ tracer: tracer.tracer, ...(broadcastSpans ? { broadcastSpans } : {}) })],
      }),
    );
    atmosphere.managed('/feed', {});
    const broadcaster = atmosphere.broadcasters.get('/feed');
    /** Broadcasts `text` inside a new root span named `root` (sampled only when it is `test.sampled`). */
    const broadcastWithin = (root: string, text: string): Promise<void> =>
      otel.provider.getTracer('test').startActiveSpan(root, async (span) => {
        try {
          await broadcaster.broadcast(text);
        } finally {
          span.end();
        }
      });
    return { sampler, otel, tracer, broadcaster, broadcastWithin };
  }

  test("with broadcastSpans 'always', every broadcast is asked of the tracer, with its broadcaster's one attributes object", async () => {
    const { sampler, otel, tracer, broadcaster, broadcastWithin } = await setUp('always');
    await broadcaster.broadcast('outside any trace');
    await broadcaster.broadcast('outside again');
    await broadcastWithin('test.unsampled', 'in an unsampled trace');
    await broadcastWithin('test.sampled', 'in a sampled trace');

    expect(sampler.asked).toEqual([
      'atmosphere.broadcast',
      'atmosphere.broadcast',
      'test.unsampled',
      'atmosphere.broadcast',
      'test.sampled',
      'atmosphere.broadcast',
    ]);
    // The sampler sees the attributes; the broadcaster made them once, not once per broadcast.
    const broadcasts = tracer.attributes;
    expect(broadcasts).toHaveLength(4);
    expect(broadcasts[0]).toEqual({ 'atmosphere.broadcaster': '/feed', 'atmosphere.action': 'broadcast' });
    for (const attributes of broadcasts) expect(attributes).toBe(broadcasts[0]);
    expect(Object.isFrozen(broadcasts[0])).toBe(true);

    expectOnlyTheSampledBroadcast(otel.exporter.getFinishedSpans());
  });

  test.each([
    ['by default', undefined],
    ["with broadcastSpans 'in-sampled-trace'", 'in-sampled-trace'],
  ] as const)(
    '%s, only a broadcast in a sampled trace reaches the tracer, and its span is the same',
    async (_label, mode) => {
      const { sampler, otel, tracer, broadcaster, broadcastWithin } = await setUp(mode);
      await broadcaster.broadcast('outside any trace');
      await broadcastWithin('test.unsampled', 'in an unsampled trace');
      await broadcastWithin('test.sampled', 'in a sampled trace');

      expect(sampler.asked).toEqual(['test.unsampled', 'test.sampled', 'atmosphere.broadcast']);
      expect(tracer.attributes).toHaveLength(1);
      expectOnlyTheSampledBroadcast(otel.exporter.getFinishedSpans());
    },
  );

  test("'in-sampled-trace' leaves the other spans to the sampler; a relayed carrier's sampled flag decides", () => {
    const sampler = new NamedRootSampler();
    const otel = inMemoryTracing({ sampler });
    scope.track({ close: () => otel.close() });
    const instance = new OpenTelemetryTracing({
      tracer: otel.provider.getTracer('test'),
      broadcastSpans: 'in-sampled-trace',
    });
    instance.startSpan('atmosphere.message', { 'atmosphere.action': 'message' }).end();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const unsampled = { traceparent: `00-${traceId}-b7ad6b7169203331-00` };
    const sampled = { traceparent: `00-${traceId}-b7ad6b7169203331-01` };
    instance.startSpan('atmosphere.backplane.relay', {}, unsampled).end();
    instance.startSpan('atmosphere.backplane.relay', { 'atmosphere.action': 'relay' }, sampled).end();
    expect(sampler.asked).toEqual(['atmosphere.message', 'atmosphere.backplane.relay']);
    const [relay] = named(otel.exporter.getFinishedSpans(), 'atmosphere.backplane.relay');
    expect(relay!.spanContext().traceId).toBe(traceId);
    expect(parentOf(relay!)).toBe('b7ad6b7169203331');
    expect(relay!.attributes).toEqual({ 'atmosphere.action': 'relay' });
  });

  test('broadcastSpans other than the two values is refused with INVALID_OPTION', () => {
    let thrown: unknown;
    try {
      new OpenTelemetryTracing({ broadcastSpans: 'never' as 'always' });
    } catch (error) {
      thrown = error;
    }
    expect(AtmosphereError.isInstance(thrown) && thrown.code).toBe('INVALID_OPTION');
  });
});
