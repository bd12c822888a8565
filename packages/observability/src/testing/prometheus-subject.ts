import type { Registry } from 'prom-client';
import { metrics } from '../metrics-provider.ts';
import type { MetricsContractSubject } from './metrics-contract.ts';
import type { PrometheusMetricsOptions } from '../prometheus-metrics.ts';

function matches(
  sampleLabels: Readonly<Partial<Record<string, string | number>>>,
  labels: Readonly<Record<string, string>>,
): boolean {
  const names = Object.keys(sampleLabels).filter((name) => name !== 'le');
  if (names.length !== Object.keys(labels).length) return false;
  return names.every((name) => String(sampleLabels[name]) === labels[name]);
}

/**
 * Reads one sample of a prom-client registry (collecting its gauges first), as a scrape would: the value of a
 * counter or gauge, or undefined when there is none with exactly these labels.
 */
export async function sampleValue(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<number | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  return values.find((sample) => matches(sample.labels, labels))?.value;
}

/** Reads a histogram's count and sum from a prom-client registry, or undefined when there is no such sample. */
export async function histogramSample(
  registry: Registry,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): Promise<{ count: number; sum: number } | undefined> {
  const metric = registry.getSingleMetric(name);
  if (metric === undefined) return undefined;
  const { values } = await metric.get();
  const pick = (suffix: string): number | undefined =>
    values.find(
      (sample) =>
        (sample as { metricName?: string }).metricName === `${name}${suffix}` &&
        matches(sample.labels, labels),
    )?.value;
  const count = pick('_count');
  const sum = pick('_sum');
  if (count === undefined || sum === undefined) return undefined;
  return { count, sum: Math.round(sum * 1e9) / 1e9 };
}

/** The contract subject of {@link metrics} over `registry` (with `options`): the provider, and reads of the registry. */
export function prometheusSubject(
  registry: Registry,
  options: Omit<PrometheusMetricsOptions, 'registry'> = {},
): MetricsContractSubject {
  return {
    provider: metrics({ ...options, registry }),
    value: (name, labels) => sampleValue(registry, name, labels),
    histogram: (name, labels) => histogramSample(registry, name, labels),
  };
}
