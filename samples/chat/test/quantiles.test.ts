import { Histogram, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { histogramPercentiles } from '../src/quantiles.ts';

async function valuesOf(observe: (histogram: Histogram<'model'>) => void) {
  const registry = new Registry();
  const histogram = new Histogram({
    name: 'test_seconds',
    help: 'test',
    labelNames: ['model'],
    buckets: [0.01, 0.025, 0.05],
    registers: [registry],
  });
  observe(histogram);
  const [metric] = await registry.getMetricsAsJSON();
  return metric!.values;
}

describe('histogramPercentiles', () => {
  test('interpolates within the bucket holding the rank, over every label set, in ms', async () => {
    const values = await valuesOf((histogram) => {
      histogram.labels('a').observe(0.005);
      histogram.labels('b').observe(0.008);
      histogram.labels('a').observe(0.02);
      histogram.labels('b').observe(0.02);
    });
    // 2 of 4 at or under 10 ms, 4 of 4 at or under 25 ms.
    expect(histogramPercentiles(values)).toEqual({ samples: 4, p50: 10, p90: 22, p99: 24.7 });
  });

  test('a rank in +Inf reads as the highest finite bound; no observation is null', async () => {
    const values = await valuesOf((histogram) => {
      histogram.labels('a').observe(0.001);
      histogram.labels('a').observe(3);
    });
    expect(histogramPercentiles(values)).toEqual({ samples: 2, p50: 10, p90: 50, p99: 50 });
    expect(histogramPercentiles(await valuesOf(() => {}))).toBeNull();
    expect(histogramPercentiles(undefined)).toBeNull();
  });
});
