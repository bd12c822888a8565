import { randomBytes } from 'node:crypto';
import type {
  AtmosphereTracing,
  Provider,
  SpanAttributes,
  SpanAttributeValue,
  TraceCarrier,
  TraceSpan,
} from '@atmosphere/runtime/spi';
import { connectTestClient, type TestClient } from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { kafkaBackplane, type KafkaBackplaneOptions } from '../src/index.ts';
import { KAFKA_KIND, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';
import { startNode, type TestNode } from './support/nodes.ts';

/** A span as the recording tracer keeps it: its W3C ids, its parent's span id, its attributes. */
interface RecordedSpan {
  readonly name: string;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly attributes: Record<string, SpanAttributeValue>;
  ended: boolean;
}

/**
 * The smallest real `tracing` kind: spans with W3C ids, a carrier that continues a trace. The runtime's
 * broadcast and relay spans go through it exactly as through OpenTelemetry's.
 */
class RecordingTracing implements AtmosphereTracing {
  readonly name = 'recording';
  readonly enabled = true;
  readonly spans: RecordedSpan[] = [];

  startSpan(name: string, attributes?: SpanAttributes, parent?: TraceSpan | TraceCarrier): TraceSpan {
    let traceId = randomBytes(16).toString('hex');
    let parentSpanId: string | undefined;
    if (parent !== undefined && 'traceparent' in parent) {
      const [, trace, span] = parent.traceparent.split('-');
      traceId = trace!;
      parentSpanId = span;
    } else if (parent !== undefined) {
      const recorded = this.spans.find(
        (span) => span === (parent as unknown as { recorded: RecordedSpan }).recorded,
      );
      if (recorded) [traceId, parentSpanId] = [recorded.traceId, recorded.spanId];
    }
    const recorded: RecordedSpan = {
      name,
      traceId,
      spanId: randomBytes(8).toString('hex'),
      parentSpanId,
      attributes: { ...attributes },
      ended: false,
    };
    this.spans.push(recorded);
    return {
      recorded,
      setAttribute: (key: string, value: SpanAttributeValue) => (recorded.attributes[key] = value),
      recordError: () => undefined,
      end: () => (recorded.ended = true),
    } as TraceSpan;
  }

  within<T>(_span: TraceSpan, work: () => T): T {
    return work();
  }

  inject(span: TraceSpan): TraceCarrier | undefined {
    const recorded = (span as unknown as { recorded?: RecordedSpan }).recorded;
    return recorded === undefined
      ? undefined
      : { traceparent: `00-${recorded.traceId}-${recorded.spanId}-01`, tracestate: 'atmosphere=test' };
  }
}

function recordingTracing(tracing: RecordingTracing): Provider<'tracing'> {
  return { kind: 'tracing', name: 'recording', priority: 10, isAvailable: () => true, create: () => tracing };
}

let kafka: TestKafka;
const nodes: TestNode[] = [];
const clients: TestClient[] = [];

beforeAll(async () => {
  kafka = await startTestKafka();
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.splice(0).map((node) => node.atmosphere.close()));
});
afterAll(async () => {
  await kafka.stop();
});

describe(`trace context across the Kafka backplane (${KAFKA_KIND})`, () => {
  test('a broadcast on node A and its relay on node B are one trace: the relay span is the broadcast span’s child', async () => {
    const topicPrefix = uniquePrefix('trace');
    const tracingA = new RecordingTracing();
    const tracingB = new RecordingTracing();
    const start = async (tracing: RecordingTracing): Promise<TestNode> => {
      const options: KafkaBackplaneOptions = { brokers: kafka.brokers, topicPrefix, partitions: 1 };
      const node = await startNode(options, {
        providers: [kafkaBackplane(options), recordingTracing(tracing)],
      });
      nodes.push(node);
      return node;
    };
    const a = await start(tracingA);
    const b = await start(tracingB);
    const onB = await connectTestClient(b.atmosphere.url('/chat/lobby'), 'websocket');
    clients.push(onB);

    await a.atmosphere.broadcasters.get('/chat/lobby').broadcast('traced');
    expect(await onB.messages.next(10_000)).toBe('traced');

    const broadcasts = tracingA.spans.filter((span) => span.name === 'atmosphere.broadcast');
    expect(broadcasts).toHaveLength(1);
    const relays = tracingB.spans.filter((span) => span.name === 'atmosphere.backplane.relay');
    expect(relays).toHaveLength(1);
    expect(relays[0]!.traceId).toBe(broadcasts[0]!.traceId);
    expect(relays[0]!.parentSpanId).toBe(broadcasts[0]!.spanId);
    expect(relays[0]!.attributes).toMatchObject({
      'atmosphere.broadcaster': '/chat/lobby',
      'atmosphere.fanout': 1,
    });
    expect(relays[0]!.ended).toBe(true);
  });

  test('a node without tracing relays no trace context, and the receiving node starts its own trace', async () => {
    const topicPrefix = uniquePrefix('untraced');
    const options: KafkaBackplaneOptions = { brokers: kafka.brokers, topicPrefix, partitions: 1 };
    const a = await startNode(options);
    nodes.push(a);
    const tracingB = new RecordingTracing();
    const b = await startNode(options, { providers: [kafkaBackplane(options), recordingTracing(tracingB)] });
    nodes.push(b);
    const onB = await connectTestClient(b.atmosphere.url('/chat/lobby'), 'websocket');
    clients.push(onB);
    await a.atmosphere.broadcasters.get('/chat/lobby').broadcast('plain');
    expect(await onB.messages.next(10_000)).toBe('plain');
    const relays = tracingB.spans.filter((span) => span.name === 'atmosphere.backplane.relay');
    expect(relays).toHaveLength(1);
    expect(relays[0]!.parentSpanId).toBeUndefined();
  });
});
