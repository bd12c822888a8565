import type { MetricValue, MetricValueWithName } from 'prom-client';

/** Percentiles of a histogram, in milliseconds, estimated from its buckets; null before any sample. */
export interface Percentiles {
  /** Observations the histogram holds (every label set together). */
  readonly samples: number;
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
}

/**
 * p50, p90 and p99 (in ms) of a prom-client histogram in seconds, given the values of its JSON form (the
 * `_bucket` series of every label set, summed by bucket), as Prometheus' `histogram_quantile` estimates them:
 * linear within the bucket that holds the rank, the highest finite bound when the rank is in `+Inf`. Null
 * when the histogram holds no observation.
 */
export function histogramPercentiles(values: readonly MetricValue<string>[] | undefined): Percentiles | null {
  const buckets = new Map<number, number>();
  for (const value of (values ?? []) as readonly MetricValueWithName<string>[]) {
    if (value.metricName?.endsWith('_bucket') !== true) continue;
    const le = value.labels['le'];
    const bound = le === '+Inf' ? Number.POSITIVE_INFINITY : Number(le);
    if (Number.isNaN(bound)) continue;
    buckets.set(bound, (buckets.get(bound) ?? 0) + value.value);
  }
  const sorted = [...buckets].sort(([a], [b]) => a - b);
  const samples = sorted.at(-1)?.[1] ?? 0;
  if (samples === 0) return null;
  const quantile = (q: number): number => {
    const rank = q * samples;
    let lower = 0;
    let below = 0;
    for (const [bound, cumulative] of sorted) {
      if (cumulative >= rank) {
        if (bound === Number.POSITIVE_INFINITY) return lower;
        const within = cumulative - below;
        return within === 0 ? bound : lower + ((bound - lower) * (rank - below)) / within;
      }
      lower = bound;
      below = cumulative;
    }
    return lower;
  };
  const ms = (seconds: number): number => Math.round(seconds * 10_000) / 10;
  return { samples, p50: ms(quantile(0.5)), p90: ms(quantile(0.9)), p99: ms(quantile(0.99)) };
}
