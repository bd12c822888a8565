import { redisBackplane } from '@atmosphere/redis';
import {
  connectTestClient,
  Inbox,
  startTestAtmosphere,
  startTestRedis,
  TestScope,
} from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { metrics, tracing } from '../src/index.ts';
import { sampleValue } from '../src/testing/index.ts';
import { inMemoryTracing, named, parentOf } from './tracing-support.ts';

describe('a broadcast across the Redis backplane', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test('the broadcast on node A and its delivery on node B are one trace; relays are counted on both', async () => {
    const otel = inMemoryTracing();
    scope.track({ close: () => otel.close() });
    const redis = await startTestRedis();
    scope.track({ close: () => redis.stop() });
    const tracer = otel.provider.getTracer('test');
    const registryA = new Registry();
    const registryB = new Registry();
    const node = async (registry: Registry) =>
      scope.track(
        await startTestAtmosphere({
          providers: [
            redisBackplane({ url: redis.url, channelPrefix: 'observability-trace:' }),
            metrics({ registry }),
            tracing({ tracer }),
          ],
        }),
      );
    const a = await node(registryA);
    const b = await node(registryB);
    const ready = new Inbox<string>();
    for (const atmosphere of [a, b])
      atmosphere.managed('/feed', { onReady: (resource) => ready.push(resource.id) });
    const onB = scope.track(await connectTestClient(b.url('/feed'), 'websocket'));
    await ready.next();

    // The broadcast an application makes while serving a traced request (a broadcast outside any trace has no
    // span by default: unsampled-broadcast.test.ts).
    await tracer.startActiveSpan('app.request', async (request) => {
      try {
        await a.broadcasters.get('/feed').broadcast('across');
      } finally {
        request.end();
      }
    });
    expect(await onB.messages.next()).toBe('across');

    const spans = otel.exporter.getFinishedSpans();
    const [root] = named(spans, 'app.request');
    const broadcasts = named(spans, 'atmosphere.broadcast');
    const relays = named(spans, 'atmosphere.backplane.relay');
    expect(broadcasts).toHaveLength(1);
    expect(relays).toHaveLength(1);
    const [broadcast] = broadcasts;
    const [relay] = relays;
    expect(parentOf(broadcast!)).toBe(root!.spanContext().spanId);
    expect(broadcast!.spanContext().traceId).toBe(root!.spanContext().traceId);
    expect(relay!.spanContext().traceId).toBe(broadcast!.spanContext().traceId);
    expect(parentOf(relay!)).toBe(broadcast!.spanContext().spanId);
    expect(broadcast!.attributes).toMatchObject({
      'atmosphere.broadcaster': '/feed',
      'atmosphere.action': 'broadcast',
      'atmosphere.fanout': 0,
    });
    expect(relay!.attributes).toMatchObject({
      'atmosphere.broadcaster': '/feed',
      'atmosphere.action': 'relay',
      'atmosphere.fanout': 1,
    });
    expect(await sampleValue(registryA, 'atmosphere_backplane_messages_total', { direction: 'out' })).toBe(1);
    expect(await sampleValue(registryB, 'atmosphere_backplane_messages_total', { direction: 'in' })).toBe(1);
    expect(await sampleValue(registryB, 'atmosphere_messages_delivered_total')).toBe(1);
  });
});
