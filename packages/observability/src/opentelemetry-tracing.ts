import {
  context,
  type Context,
  propagation,
  type Span,
  type SpanContext,
  SpanKind,
  type SpanOptions,
  SpanStatusCode,
  trace,
  TraceFlags,
  type Tracer,
} from '@opentelemetry/api';
import { AtmosphereError } from '@atmosphere/runtime';
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
  /**
   * When the spans of broadcasts, backplane relays and replays (`atmosphere.broadcast`,
   * `atmosphere.backplane.relay`, `atmosphere.replay`) are started.
   *
   * - `'in-sampled-trace'` (default): only inside a sampled trace (the current span, or the relayed carrier,
   *   has the sampled flag); anywhere else nothing is asked of the tracer and nothing is allocated. Under a
   *   parent-based sampler (the SDK's default, `ParentBased`) the sampled traces are the same as with
   *   `'always'`, minus the traces a broadcast, relay or replay would have begun on its own (a broadcast made
   *   outside any request, from a timer or a queue consumer).
   * - `'always'`: each is asked of the tracer, so a broadcast outside any trace may begin a trace of its own,
   *   as the sampler decides; the tracer makes ids, asks the sampler and returns a non-recording span for
   *   every one it drops (about 0.5 µs a broadcast with the trace SDK).
   */
  readonly broadcastSpans?: 'always' | 'in-sampled-trace';
}

/** The span names {@link OpenTelemetryTracingOptions.broadcastSpans} applies to. */
const BROADCAST_SPANS: ReadonlySet<string> = new Set([
  'atmosphere.broadcast',
  'atmosphere.backplane.relay',
  'atmosphere.replay',
]);

/** What a broadcast span outside a sampled trace is with `broadcastSpans: 'in-sampled-trace'`: nothing. */
const SKIPPED_SPAN: TraceSpan = Object.freeze({
  setAttribute() {},
  recordError() {},
  end() {},
});

/** True when the span of `parentContext` is valid and sampled. */
function inSampledTrace(parentContext: Context): boolean {
  const spanContext = trace.getSpanContext(parentContext);
  return (
    spanContext !== undefined &&
    (spanContext.traceFlags & TraceFlags.SAMPLED) !== 0 &&
    trace.isSpanContextValid(spanContext)
  );
}

/** The instrumentation scope name of the default tracer. */
export const TRACER_NAME = '@atmosphere/observability';

/**
 * An OpenTelemetry span as an Atmosphere span; `end()` is idempotent. A span the sampler dropped is an
 * {@link UnrecordedSpan} instead: the same wrapper for parenting (`within`, an explicit parent), nothing else.
 */
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

/**
 * A span the sampler did not record (an OpenTelemetry non-recording span, whose own methods do nothing): it
 * keeps only its span context, so that spans started within it stay in its (unsampled) trace. Its methods
 * build nothing, not even the exception of `recordError`.
 */
class UnrecordedSpan extends OtelSpan {
  override setAttribute(): void {}
  override recordError(): void {}
  override end(): void {}
}

/** The span kind of an Atmosphere span name: a connect or message is served, a relay consumed. */
function kindOf(name: string): SpanKind {
  if (name === 'atmosphere.broadcast') return SpanKind.PRODUCER;
  if (name === 'atmosphere.connect' || name === 'atmosphere.message') return SpanKind.SERVER;
  if (name === 'atmosphere.backplane.relay') return SpanKind.CONSUMER;
  return SpanKind.INTERNAL;
}

/** The start options of a span without attributes, one per kind (the tracer does not keep or change them). */
const BARE_OPTIONS: Readonly<Record<SpanKind, SpanOptions>> = {
  [SpanKind.INTERNAL]: { kind: SpanKind.INTERNAL },
  [SpanKind.SERVER]: { kind: SpanKind.SERVER },
  [SpanKind.CLIENT]: { kind: SpanKind.CLIENT },
  [SpanKind.PRODUCER]: { kind: SpanKind.PRODUCER },
  [SpanKind.CONSUMER]: { kind: SpanKind.CONSUMER },
};

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
  readonly #inSampledTraceOnly: boolean;

  constructor(options: OpenTelemetryTracingOptions = {}) {
    this.tracer = options.tracer ?? trace.getTracer(TRACER_NAME);
    const broadcastSpans = options.broadcastSpans ?? 'in-sampled-trace';
    if (broadcastSpans !== 'always' && broadcastSpans !== 'in-sampled-trace')
      throw new AtmosphereError(
        'INVALID_OPTION',
        `tracing({ broadcastSpans }) must be 'always' or 'in-sampled-trace', not ${JSON.stringify(broadcastSpans)}.`,
      );
    this.#inSampledTraceOnly = broadcastSpans === 'in-sampled-trace';
  }

  startSpan(name: string, attributes?: SpanAttributes, parent?: TraceSpan | TraceCarrier): TraceSpan {
    const active = context.active();
    const parentContext =
      parent === undefined
        ? active
        : parent instanceof OtelSpan
          ? trace.setSpan(active, parent.span)
          : 'traceparent' in parent
            ? extracted(parent)
            : active;
    if (this.#inSampledTraceOnly && BROADCAST_SPANS.has(name) && !inSampledTrace(parentContext))
      return SKIPPED_SPAN;
    const kind = kindOf(name);
    // The attributes go to the tracer even for a span the sampler may drop: a sampler may decide on them.
    const span = this.tracer.startSpan(
      name,
      attributes === undefined ? BARE_OPTIONS[kind] : { kind, attributes },
      parentContext,
    );
    return span.isRecording() ? new OtelSpan(span) : new UnrecordedSpan(span);
  }

  within<T>(span: TraceSpan, work: () => T): T {
    if (!(span instanceof OtelSpan)) return work();
    return context.with(trace.setSpan(context.active(), span.span), work);
  }

  inject(span: TraceSpan): TraceCarrier | undefined {
    if (!(span instanceof OtelSpan) || span instanceof UnrecordedSpan || !span.span.isRecording())
      return undefined;
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
