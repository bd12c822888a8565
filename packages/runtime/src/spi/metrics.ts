/**
 * The `metrics` provider kind: where the runtime, rooms and AI packages record what they count. The runtime
 * selects one like every other kind; its built-in `none` (priority 0) is disabled, and `@atmosphere/observability`
 * provides one over a `prom-client` registry.
 *
 * Instruments are declared once at startup (names, help, label names) and, on hot paths, used through children
 * bound to fixed label values (`counter.labels('websocket')`), so a recorded value allocates nothing. Callers
 * check {@link AtmosphereMetrics.enabled} before doing any work for a measurement (reading a clock, counting
 * recipients): with the built-in provider an instrumented path costs one property read.
 *
 * Labels take values from small closed sets (transports, reasons, model names configured by the operator),
 * never tracking ids, user ids, room or broadcaster names. Contract suite: `metricsContract` in
 * `@atmosphere/observability/testing`.
 */
export interface AtmosphereMetrics {
  readonly name: string;
  /** False for a provider that records nothing: instrumented code skips every measurement. */
  readonly enabled: boolean;
  /**
   * Of how many broadcasts the runtime times one for `atmosphere_broadcast_duration_seconds` (1: every one;
   * default {@link DEFAULT_BROADCAST_TIMING}). Timing reads the clock twice, which costs more than every other
   * measurement of a broadcast together; the counters count every broadcast whatever this is.
   */
  readonly broadcastTiming?: number;
  /** Declares a counter (a value that only grows). Declaring a name twice returns the same counter. */
  counter(spec: MetricSpec): MetricCounter;
  /** Declares a histogram. Declaring a name twice returns the same histogram. */
  histogram(spec: HistogramSpec): MetricHistogram;
  /**
   * Declares a gauge whose values are read when the metrics are collected (a scrape): `collect` reports the
   * current value of each label combination, so nothing is recorded on the paths that change it.
   */
  gauge(spec: GaugeSpec): void;
}

/** One broadcast in this many is timed, unless the metrics provider says otherwise (`broadcastTiming`). */
export const DEFAULT_BROADCAST_TIMING = 16;

/** What an instrument is. */
export interface MetricSpec {
  /** Prometheus-style name (`atmosphere_connections_total`, `gen_ai_client_token_usage`). */
  readonly name: string;
  readonly help: string;
  /** Label names, in the order `labels(...)` takes their values. */
  readonly labelNames?: readonly string[];
}

/** A histogram's spec: upper bounds of its buckets (Prometheus-style `le`). */
export interface HistogramSpec extends MetricSpec {
  readonly buckets?: readonly number[];
}

/** A gauge read at collection time. */
export interface GaugeSpec extends MetricSpec {
  /** Reports each value: `set(value, ...labelValues)`, one call per label combination. */
  readonly collect: (set: (value: number, ...labelValues: string[]) => void) => void | Promise<void>;
}

/** A counter with its label values bound. */
export interface BoundCounter {
  /** Adds `value` (default 1; never negative). */
  add(value?: number): void;
}

/** A counter; `labels(...)` binds label values once, for hot paths. */
export interface MetricCounter extends BoundCounter {
  labels(...values: string[]): BoundCounter;
}

/** A histogram with its label values bound. */
export interface BoundHistogram {
  observe(value: number): void;
}

/** A histogram; `labels(...)` binds label values once, for hot paths. */
export interface MetricHistogram extends BoundHistogram {
  labels(...values: string[]): BoundHistogram;
}

const NOOP_BOUND: BoundCounter & BoundHistogram = { add() {}, observe() {} };
const NOOP_INSTRUMENT: MetricCounter & MetricHistogram = {
  add() {},
  observe() {},
  labels: () => NOOP_BOUND,
};

/** The built-in `metrics` provider's instance: records nothing, `enabled` false. */
export const NO_METRICS: AtmosphereMetrics = Object.freeze({
  name: 'none',
  enabled: false,
  counter: () => NOOP_INSTRUMENT,
  histogram: () => NOOP_INSTRUMENT,
  gauge: () => {},
});
