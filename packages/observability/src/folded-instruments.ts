import type { BoundCounter, BoundHistogram, MetricCounter, MetricHistogram } from '@atmosphere/runtime/spi';
import {
  Counter,
  type CounterConfiguration,
  Histogram,
  type HistogramConfiguration,
  type LabelValues,
} from 'prom-client';

/*
 * prom-client's `Histogram#observe` and `Counter#inc` hash the labels object into a string key on every call,
 * even through a child bound with `labels(...)`, and a histogram looks its bucket up by the bound's value
 * turned into a property name: ≈ 185 ns per observation, paid on every broadcast. The instruments here are
 * prom-client's own classes (registered in the application's registry, read by its `metrics()` like any other)
 * whose series are plain fields of bound children — a counter's value, a histogram's per-bucket counts in a
 * Float64Array with its count and sum — written into prom-client's map when the registry collects them, so the
 * exposition (names, labels, buckets, HELP/TYPE, counts, sums, the order of the series) is what prom-client
 * renders for the same observations.
 */

/** The key prom-client gives a label set (its `hashObject` over the sorted label names). */
function labelKey(labels: LabelValues<string>, sortedNames: readonly string[]): string {
  let key = '';
  for (const name of sortedNames) {
    const value = labels[name];
    if (value !== undefined) key += `${name}:${value},`;
  }
  return key;
}

/** prom-client's checks of a label set: each name declared, one value per name when given positionally. */
function labelsOf(labelNames: readonly string[], values: readonly unknown[]): LabelValues<string> {
  if (typeof values[0] === 'object' && values[0] !== null) {
    const labels = values[0] as LabelValues<string>;
    for (const name in labels)
      if (!labelNames.includes(name))
        throw new Error(
          `Added label "${name}" is not included in initial labelset: [ ${labelNames.map((n) => `'${n}'`).join(', ')} ]`,
        );
    return labels;
  }
  if (values.length !== labelNames.length)
    throw new Error(
      `Invalid number of arguments (${values.length}): "${values.join(', ')}" for label names (${labelNames.length}): "${labelNames.join(', ')}".`,
    );
  const labels: Record<string, string | number> = {};
  for (let i = 0; i < labelNames.length; i++) labels[labelNames[i]!] = values[i] as string | number;
  return labels;
}

/** The series of one instrument: bound children by label key, and those recorded, in the order prom-client lists them. */
class SeriesSet<S extends { listed: boolean; reset(): void }> {
  readonly byKey = new Map<string, S>();
  /** Series recorded (or zeroed) since the last reset, first recorded first. */
  listed: S[] = [];

  list(series: S): void {
    series.listed = true;
    this.listed.push(series);
  }

  /** prom-client's `remove`: the series has no values, and is listed again when next recorded. */
  remove(key: string): void {
    const series = this.byKey.get(key);
    if (series === undefined) return;
    series.reset();
    if (!series.listed) return;
    series.listed = false;
    this.listed.splice(this.listed.indexOf(series), 1);
  }

  /** prom-client's `reset`: no series has values or is listed. */
  clear(): void {
    for (const series of this.listed) {
      series.listed = false;
      series.reset();
    }
    this.listed = [];
  }
}

/** One label set of a {@link FoldedCounter}: a bound child. */
export class CounterSeries implements MetricCounter {
  readonly #owner: FoldedCounter;
  readonly labelValues: LabelValues<string>;
  value = 0;
  listed = false;

  constructor(owner: FoldedCounter, labels: LabelValues<string>) {
    this.#owner = owner;
    this.labelValues = labels;
  }

  add(value = 1): void {
    if (!(value >= 0 && value !== Infinity)) {
      if (value < 0) throw new Error('It is not possible to decrease a counter');
      throw new TypeError(`Value is not a valid number: ${String(value)}`);
    }
    this.value += value;
    if (!this.listed) this.#owner.series.list(this);
  }

  /** prom-client's name of {@link add}. */
  inc(value?: number): void {
    this.add(value);
  }

  labels(...values: string[]): BoundCounter {
    return this.#owner.labels(...values);
  }

  reset(): void {
    this.value = 0;
  }
}

/**
 * A prom-client `Counter` whose bound children add to a number of their own; the values are written into
 * prom-client's map when the counter is collected.
 */
export class FoldedCounter extends Counter<string> {
  readonly #ready = true;
  readonly series = new SeriesSet<CounterSeries>();
  /** The series without labels (listed from the start when the counter has no label, as prom-client's). */
  readonly root: CounterSeries;

  constructor(config: CounterConfiguration<string>) {
    super(config);
    this.root = this.#seriesOf({});
    this.reset();
  }

  #sortedNames(): readonly string[] {
    return (this as unknown as { sortedLabelNames: string[] }).sortedLabelNames;
  }

  #seriesOf(labels: LabelValues<string>): CounterSeries {
    const key = labelKey(labels, this.#sortedNames());
    let series = this.series.byKey.get(key);
    if (series === undefined) {
      series = new CounterSeries(this, labels);
      this.series.byKey.set(key, series);
    }
    return series;
  }

  /** prom-client's `inc` (its constructor sets `inc` to this method). */
  incWithoutExemplar(labels?: unknown, value?: number): void {
    if (typeof labels === 'object' && labels !== null)
      this.#seriesOf(labelsOf(this.labelNamesOf(), [labels])).add(value ?? 1);
    else this.root.add((labels as number | undefined) ?? 1);
  }

  override labels(...values: unknown[]): CounterSeries {
    return this.#seriesOf(labelsOf(this.labelNamesOf(), values));
  }

  labelNamesOf(): readonly string[] {
    return (this as unknown as { labelNames: string[] }).labelNames;
  }

  override reset(): void {
    // prom-client's constructor resets before this class's fields exist.
    if (!(#ready in this)) return super.reset();
    this.series.clear();
    if (this.labelNamesOf().length === 0) this.series.list(this.root);
  }

  override remove(...values: unknown[]): void {
    this.series.remove(labelKey(labelsOf(this.labelNamesOf(), values), this.#sortedNames()));
  }

  override async get(): ReturnType<Counter<string>['get']> {
    this.fold();
    return super.get();
  }

  /** Writes the series into prom-client's map, in the order they were first recorded. */
  fold(): void {
    const map: Record<string, { value: number; labels: LabelValues<string> }> = {};
    const names = this.#sortedNames();
    for (const series of this.series.listed)
      map[labelKey(series.labelValues, names)] = { value: series.value, labels: series.labelValues };
    (this as unknown as { hashMap: typeof map }).hashMap = map;
  }
}

/** prom-client's entry of one histogram series. */
interface HistogramEntry {
  labels: LabelValues<string>;
  bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/** One label set of a {@link FoldedHistogram}: a bound child. */
export class HistogramSeries implements MetricHistogram {
  readonly #owner: FoldedHistogram;
  readonly labelValues: LabelValues<string>;
  /** The buckets' upper bounds, in the order they were declared. */
  readonly #bounds: Float64Array;
  /** Observations per bucket (not cumulative): the first bound each value is at most. */
  readonly counts: Float64Array;
  count = 0;
  sum = 0;
  listed = false;

  constructor(owner: FoldedHistogram, labels: LabelValues<string>, bounds: Float64Array) {
    this.#owner = owner;
    this.labelValues = labels;
    this.#bounds = bounds;
    this.counts = new Float64Array(bounds.length);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) throw new TypeError(`Value is not a valid number: ${String(value)}`);
    const bounds = this.#bounds;
    const last = bounds.length;
    let i = 0;
    // `le`: a value equal to a bound counts in that bucket. Past the last bound it is only in +Inf.
    while (i < last && value > bounds[i]!) i++;
    if (i < last) this.counts[i]!++;
    this.sum += value;
    this.count++;
    if (!this.listed) this.#owner.series.list(this);
  }

  labels(...values: string[]): BoundHistogram {
    return this.#owner.labels(...values);
  }

  /** prom-client's timer on this series: `end()` observes the seconds since. */
  startTimer(): () => number {
    const start = process.hrtime.bigint();
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9;
      this.observe(seconds);
      return seconds;
    };
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
  }

  /** prom-client's entry for this series. */
  entry(upperBounds: readonly number[]): HistogramEntry {
    const bucketValues: Record<string, number> = {};
    for (let i = 0; i < upperBounds.length; i++) bucketValues[upperBounds[i]!] = this.counts[i]!;
    return { labels: this.labelValues, bucketValues, sum: this.sum, count: this.count };
  }
}

/**
 * A prom-client `Histogram` whose bound children count in a Float64Array of their own; the series are
 * written into prom-client's map when the histogram is collected, and prom-client renders them.
 */
export class FoldedHistogram extends Histogram<string> {
  readonly series = new SeriesSet<HistogramSeries>();
  /** The series without labels (listed from the start when the histogram has no label, as prom-client's). */
  readonly root: HistogramSeries;
  readonly #bounds: Float64Array;

  constructor(config: HistogramConfiguration<string>) {
    if (config.enableExemplars) throw new TypeError('FoldedHistogram keeps no exemplars');
    super(config);
    this.#bounds = Float64Array.from(this.#upperBounds());
    this.root = this.#seriesOf({});
    if (this.labelNamesOf().length === 0) this.series.list(this.root);
  }

  #upperBounds(): readonly number[] {
    return (this as unknown as { upperBounds: number[] }).upperBounds;
  }

  #sortedNames(): readonly string[] {
    return (this as unknown as { sortedLabelNames: string[] }).sortedLabelNames;
  }

  labelNamesOf(): readonly string[] {
    return (this as unknown as { labelNames: string[] }).labelNames;
  }

  #seriesOf(labels: LabelValues<string>): HistogramSeries {
    const key = labelKey(labels, this.#sortedNames());
    let series = this.series.byKey.get(key);
    if (series === undefined) {
      series = new HistogramSeries(this, labels, this.#bounds);
      this.series.byKey.set(key, series);
    }
    return series;
  }

  /** prom-client's `observe` (its constructor sets `observe` to this method). */
  observeWithoutExemplar(labels: unknown, value?: number): void {
    if (typeof labels === 'object' && labels !== null)
      this.#seriesOf(labelsOf(this.labelNamesOf(), [labels])).observe(value as number);
    else this.root.observe(labels as number);
  }

  override labels(...values: unknown[]): HistogramSeries {
    return this.#seriesOf(labelsOf(this.labelNamesOf(), values));
  }

  override zero(labels: LabelValues<string>): void {
    const series = this.#seriesOf(labelsOf(this.labelNamesOf(), [labels]));
    series.reset();
    if (!series.listed) this.series.list(series);
  }

  override reset(): void {
    // prom-client's constructor resets before this class's fields exist.
    if (!(#bounds in this)) return super.reset();
    // As prom-client's: no series until the next observation, the one without labels included.
    this.series.clear();
  }

  override remove(...values: unknown[]): void {
    this.series.remove(labelKey(labelsOf(this.labelNamesOf(), values), this.#sortedNames()));
  }

  /** What prom-client's `get()` and its registry's `metrics()` read: the series folded in first. */
  async getForPromString(): Promise<unknown> {
    this.fold();
    return (
      Histogram.prototype as unknown as { getForPromString(this: Histogram<string>): Promise<unknown> }
    ).getForPromString.call(this);
  }

  /** Writes the series into prom-client's map, in the order they were first recorded. */
  fold(): void {
    const map: Record<string, HistogramEntry> = {};
    const names = this.#sortedNames();
    const upperBounds = this.#upperBounds();
    for (const series of this.series.listed)
      map[labelKey(series.labelValues, names)] = series.entry(upperBounds);
    (this as unknown as { hashMap: typeof map }).hashMap = map;
  }
}

let folding: boolean | undefined;

/**
 * Whether the installed prom-client keeps its series as these instruments write them (checked once, on
 * instruments of no registry: the map a folded counter and histogram write is compared with the one
 * prom-client's own build for the same values). When it does not (another major version), the `metrics`
 * provider uses prom-client's classes as they are.
 */
export function foldingSupported(): boolean {
  if (folding !== undefined) return folding;
  try {
    const internal = (metric: object): unknown => (metric as { hashMap: unknown }).hashMap;
    const counters = [
      new Counter({ name: 'probe_total', help: 'probe', labelNames: ['k'], registers: [] }),
      new FoldedCounter({ name: 'probe_total', help: 'probe', labelNames: ['k'], registers: [] }),
    ] as const;
    const histogramConfig = {
      name: 'probe',
      help: 'probe',
      labelNames: ['k'],
      buckets: [1, 2],
      registers: [],
    };
    const histograms = [new Histogram(histogramConfig), new FoldedHistogram(histogramConfig)] as const;
    for (const counter of counters) {
      counter.labels('a').inc(2);
      counter.inc({ k: 'b' });
    }
    for (const histogram of histograms) {
      histogram.labels('a').observe(1);
      histogram.observe({ k: 'b' }, 3);
    }
    counters[1].fold();
    histograms[1].fold();
    folding =
      typeof (Histogram.prototype as unknown as { getForPromString?: unknown }).getForPromString ===
        'function' &&
      JSON.stringify(internal(counters[1])) === JSON.stringify(internal(counters[0])) &&
      JSON.stringify(internal(histograms[1])) === JSON.stringify(internal(histograms[0]));
  } catch {
    folding = false;
  }
  return folding;
}
