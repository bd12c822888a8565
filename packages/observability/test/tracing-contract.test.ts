import { SpanStatusCode } from '@opentelemetry/api';
import { tracing } from '../src/index.ts';
import { tracingContract } from '../src/testing/tracing-contract.ts';
import { inMemoryTracing } from './tracing-support.ts';

tracingContract('opentelemetry (SDK with the in-memory exporter)', {
  create: () => {
    const otel = inMemoryTracing();
    return {
      provider: tracing({ tracer: otel.provider.getTracer('contract') }),
      finished: () =>
        otel.exporter.getFinishedSpans().map((span) => ({
          name: span.name,
          traceId: span.spanContext().traceId,
          spanId: span.spanContext().spanId,
          parentSpanId: span.parentSpanContext?.spanId,
          attributes: span.attributes,
          failed: span.status.code === SpanStatusCode.ERROR,
        })),
      close: () => otel.close(),
    };
  },
});
