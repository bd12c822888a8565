/**
 * `@atmosphere/observability`: Prometheus metrics and OpenTelemetry traces of Atmosphere — `metrics({ registry })`
 * and `tracing()` as providers of the runtime's `metrics` and `tracing` kinds, and `metricsHandler(registry)` to
 * serve `/metrics` with `atmosphere.handle()`. The names of what is measured are in the package README.
 */
export { metricsHandler, type MetricsHandlerOptions } from './metrics-handler.ts';
export { METRICS_PROVIDER, metrics } from './metrics-provider.ts';
export type { PrometheusMetricsOptions } from './prometheus-metrics.ts';
export type { OpenTelemetryTracingOptions } from './opentelemetry-tracing.ts';
export { TRACING_PROVIDER, tracing } from './tracing-provider.ts';
