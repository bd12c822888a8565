import type { Provider } from '@atmosphere/runtime/spi';
import { PrometheusMetrics, type PrometheusMetricsOptions } from './prometheus-metrics.ts';

/** The name of the `metrics` provider {@link metrics} makes. */
export const METRICS_PROVIDER = 'prometheus';

/**
 * The `metrics` provider over the application's `prom-client` registry (priority 10, above the built-in
 * `none`): `createAtmosphere({ providers: [metrics({ registry })] })`. Serve the registry with
 * {@link metricsHandler}. Being passed in explicitly, it is required: a registry that refuses the metrics (a
 * name already taken by another kind of metric) fails the startup instead of running unobserved.
 */
export function metrics(options: PrometheusMetricsOptions): Provider<'metrics'> {
  return {
    kind: 'metrics',
    name: METRICS_PROVIDER,
    priority: 10,
    required: true,
    isAvailable: () => true,
    create: () => new PrometheusMetrics(options),
  };
}
