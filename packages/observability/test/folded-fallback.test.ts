import { Counter, Histogram, Registry } from 'prom-client';
import { expect, test } from 'vitest';
import { FoldedCounter, FoldedHistogram, foldingSupported } from '../src/folded-instruments.ts';
import { PrometheusMetrics } from '../src/prometheus-metrics.ts';
import { sample } from './prometheus-text.ts';

test('a prom-client that keeps its series in another form gets its own classes, recording as before', async () => {
  // A prom-client whose counters keep one more field per series than the folded ones write (this file's
  // module instances only: vitest runs each test file apart).
  const internal = Counter.prototype as unknown as {
    incWithoutExemplar(this: { hashMap: Record<string, object> }, ...args: unknown[]): unknown;
  };
  const original = internal.incWithoutExemplar;
  internal.incWithoutExemplar = function (...args) {
    const result = original.apply(this, args);
    for (const entry of Object.values(this.hashMap)) Object.assign(entry, { since: 0 });
    return result;
  };
  try {
    expect(foldingSupported()).toBe(false);
    const registry = new Registry();
    const metrics = new PrometheusMetrics({ registry });
    const counter = metrics.counter({ name: 'fallback_total', help: 'fallback', labelNames: ['kind'] });
    const histogram = metrics.histogram({ name: 'fallback_seconds', help: 'fallback', buckets: [0.1, 1] });
    counter.labels('a').add(2);
    counter.labels('a').add();
    histogram.observe(0.1);
    histogram.observe(0.5);
    expect(registry.getSingleMetric('fallback_total')).toBeInstanceOf(Counter);
    expect(registry.getSingleMetric('fallback_total')).not.toBeInstanceOf(FoldedCounter);
    expect(registry.getSingleMetric('fallback_seconds')).toBeInstanceOf(Histogram);
    expect(registry.getSingleMetric('fallback_seconds')).not.toBeInstanceOf(FoldedHistogram);
    const text = await registry.metrics();
    expect(sample(text, 'fallback_total', 'kind="a"')).toBe(3);
    expect(sample(text, 'fallback_seconds_bucket', 'le="0.1"')).toBe(1);
    expect(sample(text, 'fallback_seconds_count')).toBe(2);
  } finally {
    internal.incWithoutExemplar = original;
  }
});
