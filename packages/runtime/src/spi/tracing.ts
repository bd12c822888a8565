/**
 * The `tracing` provider kind: spans of connections, inbound messages, broadcasts, backplane relays and
 * replays (and, in `@atmosphere/ai`, AI runs and tool calls). The built-in `none` (priority 0) is disabled;
 * `@atmosphere/observability` provides one over `@opentelemetry/api`, so the application's OpenTelemetry SDK
 * decides sampling and export. Instrumented code checks {@link AtmosphereTracing.enabled} first.
 *
 * Attribute names: `atmosphere.resource.uuid`, `atmosphere.transport`, `atmosphere.action`,
 * `atmosphere.broadcaster`, `atmosphere.room`, `atmosphere.fanout`; the AI spans use the OpenTelemetry GenAI
 * semantic conventions (`gen_ai.*`).
 */
export interface AtmosphereTracing {
  readonly name: string;
  /** False for a provider that records nothing: instrumented code starts no span. */
  readonly enabled: boolean;
  /**
   * Starts a span. Its parent is `parent` when given (a span, or a carrier from another node), else the
   * span current in this async context (see {@link AtmosphereTracing.within}).
   */
  startSpan(name: string, attributes?: SpanAttributes, parent?: TraceSpan | TraceCarrier): TraceSpan;
  /** Runs `work` with `span` as the current span (spans started inside it are its children). */
  within<T>(span: TraceSpan, work: () => T): T;
  /**
   * The span's context as a carrier for another node (W3C `traceparent`, and `tracestate` when there is
   * one), or undefined when the span is not recorded.
   */
  inject(span: TraceSpan): TraceCarrier | undefined;
}

/** Span attribute values. */
export type SpanAttributeValue = string | number | boolean;

/** Span attributes. */
export type SpanAttributes = Readonly<Record<string, SpanAttributeValue>>;

/** A trace context carried between nodes (across a backplane): W3C Trace Context fields. */
export interface TraceCarrier {
  readonly traceparent: string;
  readonly tracestate?: string;
}

/** A started span. `end()` is idempotent. */
export interface TraceSpan {
  setAttribute(name: string, value: SpanAttributeValue): void;
  /** Marks the span failed with this error (recorded as an exception event). */
  recordError(error: unknown): void;
  end(): void;
}

const NOOP_SPAN: TraceSpan = Object.freeze({
  setAttribute() {},
  recordError() {},
  end() {},
});

/** The built-in `tracing` provider's instance: starts nothing, `enabled` false. */
export const NO_TRACING: AtmosphereTracing = Object.freeze({
  name: 'none',
  enabled: false,
  startSpan: () => NOOP_SPAN,
  within: <T>(_span: TraceSpan, work: () => T): T => work(),
  inject: () => undefined,
});
