import {
  context,
  type Context,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
} from '@opentelemetry/api';
import type {
  AtmosphereTracing,
  SpanAttributes,
  SpanAttributeValue,
  TraceCarrier,
  TraceSpan,
} from '@atmosphere/runtime/spi';

/** Options of {@link OpenTelemetryTracing}. */
export interface OpenTelemetryTracingOptions {
  /** The tracer to use. Default: `trace.getTracer('@atmosphere/observability')` of the global provider. */
  readonly tracer?: Tracer;
}

/** The instrumentation scope name of the default tracer. */
export const TRACER_NAME = '@atmosphere/observability';

/** An OpenTelemetry span as an Atmosphere span; `end()` is idempotent. */
class OtelSpan implements TraceSpan {
  readonly span: Span;
  #ended = false;

  constructor(span: Span) {
    this.span = span;
  }

  setAttribute(name: string, value: SpanAttributeValue): void {
    this.span.setAttribute(name, value);
  }

  recordError(error: unknown): void {
    const failure = error instanceof Error ? error : new Error(String(error));
    this.span.recordException(failure);
    this.span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    const code = (error as { code?: unknown } | null)?.code;
    this.span.setAttribute('error.type', typeof code === 'string' ? code : failure.name);
  }

  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.span.end();
  }
}

/** The span kind of an Atmosphere span name: a connect or message is served, a relay consumed. */
function kindOf(name: string): SpanKind {
  if (name === 'atmosphere.connect' || name === 'atmosphere.message') return SpanKind.SERVER;
  if (name === 'atmosphere.backplane.relay') return SpanKind.CONSUMER;
  if (name === 'atmosphere.broadcast') return SpanKind.PRODUCER;
  return SpanKind.INTERNAL;
}

const carrierGetter = {
  keys: (carrier: TraceCarrier) => Object.keys(carrier),
  get: (carrier: TraceCarrier, key: string) =>
    key === 'traceparent' ? carrier.traceparent : key === 'tracestate' ? carrier.tracestate : undefined,
};

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;

/**
 * The context of a carrier from another node: through the global propagator, or, when none is registered
 * (the API's default is a no-op), from the W3C `traceparent` itself.
 */
function extracted(carrier: TraceCarrier): Context {
  const active = context.active();
  const viaPropagator = propagation.extract(active, carrier, carrierGetter);
  if (trace.getSpanContext(viaPropagator) !== undefined) return viaPropagator;
  const match = TRACEPARENT.exec(carrier.traceparent);
  if (match === null || match[1] === 'ff') return active;
  const spanContext: SpanContext = {
    traceId: match[2]!,
    spanId: match[3]!,
    traceFlags: Number.parseInt(match[4]!, 16) & 1,
    isRemote: true,
  };
  if (!trace.isSpanContextValid(spanContext)) return active;
  return trace.setSpanContext(active, spanContext);
}

/**
 * The `tracing` provider's instance over `@opentelemetry/api`: spans go to the tracer provider the
 * application registered (its SDK decides sampling and export; without one, the API's no-op). The current
 * span follows OpenTelemetry's context (the application's context manager, `AsyncLocalStorage` in Node's
 * SDK), and a trace crosses the backplane as W3C Trace Context through the global propagator.
 */
export class OpenTelemetryTracing implements AtmosphereTracing {
  readonly name = 'opentelemetry';
  readonly enabled = true;
  readonly tracer: Tracer;

  constructor(options: OpenTelemetryTracingOptions = {}) {
    this.tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
  }

  startSpan(name: string, attributes?: SpanAttributes, parent?: TraceSpan | TraceCarrier): TraceSpan {
    let parentContext: Context = context.active();
    if (parent instanceof OtelSpan) parentContext = trace.setSpan(context.active(), parent.span);
    else if (parent !== undefined && 'traceparent' in parent) parentContext = extracted(parent);
    const span = this.tracer.startSpan(
      name,
      { kind: kindOf(name), ...(attributes ? { attributes } : {}) },
      parentContext,
    );
    return new OtelSpan(span);
  }

  within<T>(span: TraceSpan, work: () => T): T {
    if (!(span instanceof OtelSpan)) return work();
    return context.with(trace.setSpan(context.active(), span.span), work);
  }

  inject(span: TraceSpan): TraceCarrier | undefined {
    if (!(span instanceof OtelSpan) || !span.span.isRecording()) return undefined;
    const carrier: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span.span), carrier);
    // Without a registered propagator, W3C Trace Context is written from the span context itself.
    if (carrier['traceparent'] === undefined) {
      const spanContext = span.span.spanContext();
      carrier['traceparent'] =
        `00-${spanContext.traceId}-${spanContext.spanId}-0${(spanContext.traceFlags & 1).toString(16)}`;
    }
    const traceparent = carrier['traceparent'];
    const tracestate = carrier['tracestate'];
    return tracestate === undefined ? { traceparent } : { traceparent, tracestate };
  }
}
