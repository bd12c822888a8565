import { describe, expect, expectTypeOf, test } from 'vitest';
import type { Provider } from '@atmosphere/runtime';
import type { AtmosphereMetrics, AtmosphereTracing } from '@atmosphere/runtime/spi';
import { metrics, tracing } from '../src/index.ts';
import type { OpenTelemetryTracing, PrometheusMetrics } from '../src/spi/index.ts';

/**
 * The public surface of @atmosphere/observability, pinned: a value export added or removed shows here in review
 * (and needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/observability public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'METRICS_PROVIDER',
      'TRACING_PROVIDER',
      'metrics',
      'metricsHandler',
      'tracing',
    ]);
  });

  test('/spi exports exactly these values', async () => {
    expect(Object.keys(await import('../src/spi/index.ts')).sort()).toEqual([
      'OpenTelemetryTracing',
      'PrometheusMetrics',
      'TRACER_NAME',
    ]);
  });

  test('/testing exports exactly these values', async () => {
    expect(Object.keys(await import('../src/testing/index.ts')).sort()).toEqual([
      'histogramSample',
      'metricsContract',
      'prometheusSubject',
      'sampleValue',
      'tracingContract',
    ]);
  });

  test('key types', () => {
    expectTypeOf(metrics).returns.toEqualTypeOf<Provider<'metrics'>>();
    expectTypeOf(tracing).returns.toEqualTypeOf<Provider<'tracing'>>();
    expectTypeOf<PrometheusMetrics>().toExtend<AtmosphereMetrics>();
    expectTypeOf<OpenTelemetryTracing>().toExtend<AtmosphereTracing>();
  });
});
