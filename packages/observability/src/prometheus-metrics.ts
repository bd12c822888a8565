import {
  type AtmosphereMetrics,
  DEFAULT_BROADCAST_TIMING,
  type GaugeSpec,
  type HistogramSpec,
  type MetricCounter,
  type MetricHistogram,
  type MetricSpec,
} from '@atmosphere/runtime/spi';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { FoldedCounter, FoldedHistogram, foldingSupported } from './folded-instruments.ts';

/** Options of {@link PrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** The application's registry: the metrics are registered there, and `/metrics` serves it. */
  readonly registry: Registry;
  /** Prepended to every metric name (`myapp_`). Default none. */
  readonly prefix?: string;
  /**
   * Of how many broadcasts one is timed for `atmosphere_broadcast_duration_seconds`: its quantiles and mean are
   * those of a systematic sample of the broadcasts, its count is the number timed. Default 16; 1 times every
   * broadcast (two clock reads each, nine tenths of what metrics otherwise cost a broadcast). Not a whole number
   * of at least 1: the startup fails (`INVALID_OPTION`).
   */
  readonly broadcastTiming?: number;
}

type AnyCounter = Counter<string>;
type AnyHistogram = Histogram<string>;

/**
 * A prom-client counter as an Atmosphere counter (one the application registered itself under an Atmosphere
 * name, or any when the installed prom-client cannot be folded): bound children are made once per label
 * combination, and each of prom-client's increments still hashes its labels.
 */
function counterOf(counter: AnyCounter): MetricCounter {
  return {
    add: (value = 1) => counter.inc(value),
    labels: (...values: string[]) => {
      const child = counter.labels(...values);
      return { add: (value = 1) => child.inc(value) };
    },
  };
}

/** A prom-client histogram as an Atmosphere histogram (the same cases as {@link counterOf}). */
function histogramOf(histogram: AnyHistogram): MetricHistogram {
  return {
    observe: (value) => histogram.observe(value),
    labels: (...values: string[]) => {
      const child = histogram.labels(...values);
      return { observe: (value) => child.observe(value) };
    },
  };
}

/**
 * The `metrics` provider's instance over a `prom-client` registry the application owns. Instruments are
 * registered once per name (declaring a name again returns the same one, so the runtime, rooms and AI
 * packages may each declare theirs and several Atmosphere instances may share a registry); gauges are read
 * at scrape time through prom-client's `collect`. Counters and histograms are prom-client's classes whose
 * bound children record into fields of their own (no label hashing, a bucket search over a Float64Array),
 * folded into prom-client's series when the registry is collected (`folded-instruments.ts`); a counter or
 * histogram the application registered itself under the same name, or every one when the installed
 * prom-client keeps its series otherwise ({@link foldingSupported}), is used through prom-client's own
 * `inc` / `observe`.
 */
export class PrometheusMetrics implements AtmosphereMetrics {
  readonly name = 'prometheus';
  readonly enabled = true;
  readonly registry: Registry;
  readonly broadcastTiming: number;
  readonly #prefix: string;
  readonly #counters = new Map<string, MetricCounter>();
  readonly #histograms = new Map<string, MetricHistogram>();
  readonly #gauges = new Map<string, GaugeSpec['collect'][]>();

  constructor(options: PrometheusMetricsOptions) {
    this.registry = options.registry;
    this.#prefix = options.prefix ?? '';
    // Checked by the runtime at startup, whatever the provider.
    this.broadcastTiming = options.broadcastTiming ?? DEFAULT_BROADCAST_TIMING;
  }

  counter(spec: MetricSpec): MetricCounter {
    const name = this.#prefix + spec.name;
    let counter = this.#counters.get(name);
    if (counter === undefined) {
      const existing = this.registry.getSingleMetric(name);
      counter =
        existing instanceof FoldedCounter
          ? existing.root
          : existing instanceof Counter
            ? counterOf(existing)
            : this.#newCounter(name, spec);
      this.#counters.set(name, counter);
    }
    return counter;
  }

  histogram(spec: HistogramSpec): MetricHistogram {
    const name = this.#prefix + spec.name;
    let histogram = this.#histograms.get(name);
    if (histogram === undefined) {
      const existing = this.registry.getSingleMetric(name);
      histogram =
        existing instanceof FoldedHistogram
          ? existing.root
          : existing instanceof Histogram
            ? histogramOf(existing)
            : this.#newHistogram(name, spec);
      this.#histograms.set(name, histogram);
    }
    return histogram;
  }

  #newCounter(name: string, spec: MetricSpec): MetricCounter {
    const config = {
      name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      registers: [this.registry],
    };
    return foldingSupported() ? new FoldedCounter(config).root : counterOf(new Counter(config));
  }

  #newHistogram(name: string, spec: HistogramSpec): MetricHistogram {
    const config = {
      name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      ...(spec.buckets ? { buckets: [...spec.buckets] } : {}),
      registers: [this.registry],
    };
    return foldingSupported() ? new FoldedHistogram(config).root : histogramOf(new Histogram(config));
  }

  /**
   * Declares a gauge read at scrape time. A second declaration of the same name (a second Atmosphere
   * instance on the same registry) adds its values to the first's.
   */
  gauge(spec: GaugeSpec): void {
    const name = this.#prefix + spec.name;
    const collectors = this.#gauges.get(name);
    if (collectors !== undefined) {
      collectors.push(spec.collect);
      return;
    }
    const list = [spec.collect];
    this.#gauges.set(name, list);
    new Gauge({
      name,
      help: spec.help,
      labelNames: [...(spec.labelNames ?? [])],
      registers: [this.registry],
      async collect() {
        this.reset();
        const totals = new Map<string, { value: number; labels: string[] }>();
        const set = (value: number, ...labels: string[]): void => {
          const key = labels.join('\u0000');
          const total = totals.get(key);
          if (total === undefined) totals.set(key, { value, labels });
          else total.value += value;
        };
        for (const collect of list) await collect(set);
        const labelNames = spec.labelNames ?? [];
        for (const { value, labels } of totals.values()) {
          if (labelNames.length === 0) {
            this.set(value);
            continue;
          }
          const record: Record<string, string> = {};
          for (let i = 0; i < labelNames.length; i++) record[labelNames[i]!] = labels[i] ?? '';
          this.set(record, value);
        }
      },
    });
  }
}
