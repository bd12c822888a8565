import type {
  AtmosphereMetrics,
  GaugeSpec,
  HistogramSpec,
  MetricCounter,
  MetricHistogram,
  MetricSpec,
} from '@atmosphere/runtime/spi';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/** Options of {@link PrometheusMetrics}. */
export interface PrometheusMetricsOptions {
  /** The application's registry: the metrics are registered there, and `/metrics` serves it. */
  readonly registry: Registry;
  /** Prepended to every metric name (`myapp_`). Default none. */
  readonly prefix?: string;
}

type AnyCounter = Counter<string>;
type AnyHistogram = Histogram<string>;

/** A prom-client counter as an Atmosphere counter: bound children are made once per label combination. */
function counterOf(counter: AnyCounter): MetricCounter {
  return {
    add: (value = 1) => counter.inc(value),
    labels: (...values: string[]) => {
      const child = counter.labels(...values);
      return { add: (value = 1) => child.inc(value) };
    },
  };
}

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
 * at scrape time through prom-client's `collect`.
 */
export class PrometheusMetrics implements AtmosphereMetrics {
  readonly name = 'prometheus';
  readonly enabled = true;
  readonly registry: Registry;
  readonly #prefix: string;
  readonly #counters = new Map<string, MetricCounter>();
  readonly #histograms = new Map<string, MetricHistogram>();
  readonly #gauges = new Map<string, GaugeSpec['collect'][]>();

  constructor(options: PrometheusMetricsOptions) {
    this.registry = options.registry;
    this.#prefix = options.prefix ?? '';
  }

  counter(spec: MetricSpec): MetricCounter {
    const name = this.#prefix + spec.name;
    let counter = this.#counters.get(name);
    if (counter === undefined) {
      const existing = this.registry.getSingleMetric(name);
      counter = counterOf(
        existing instanceof Counter
          ? existing
          : new Counter({
              name,
              help: spec.help,
              labelNames: [...(spec.labelNames ?? [])],
              registers: [this.registry],
            }),
      );
      this.#counters.set(name, counter);
    }
    return counter;
  }

  histogram(spec: HistogramSpec): MetricHistogram {
    const name = this.#prefix + spec.name;
    let histogram = this.#histograms.get(name);
    if (histogram === undefined) {
      const existing = this.registry.getSingleMetric(name);
      histogram = histogramOf(
        existing instanceof Histogram
          ? existing
          : new Histogram({
              name,
              help: spec.help,
              labelNames: [...(spec.labelNames ?? [])],
              ...(spec.buckets ? { buckets: [...spec.buckets] } : {}),
              registers: [this.registry],
            }),
      );
      this.#histograms.set(name, histogram);
    }
    return histogram;
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
