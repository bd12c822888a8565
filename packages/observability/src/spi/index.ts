/**
 * `@atmosphere/observability/spi`: the reference implementations of the runtime's `metrics` and `tracing`
 * kinds (whose types are in `@atmosphere/runtime/spi`), for implementers of other metrics or tracing
 * backends to read and to wrap.
 */
export { PrometheusMetrics } from '../prometheus-metrics.ts';
export { OpenTelemetryTracing, TRACER_NAME } from '../opentelemetry-tracing.ts';
