/**
 * A latency histogram in microseconds with about 1 % resolution, mergeable across processes: exact buckets
 * under 100 µs, then logarithmic buckets growing by 1 % up to ~100 s. Recording is one `Math.log` and an
 * increment, so a client process can record every delivered message.
 */
export class Histogram {
  static readonly LINEAR = 100;
  static readonly GROWTH = Math.log(1.01);
  static readonly SIZE = Histogram.LINEAR + 1400;

  readonly counts: Uint32Array;
  count = 0;
  sum = 0;
  max = 0;

  constructor(counts?: Uint32Array) {
    this.counts = counts ?? new Uint32Array(Histogram.SIZE);
    if (counts) for (const c of counts) this.count += c;
  }

  /** Records one value in microseconds (negative values, from clock jitter, count as 0). */
  record(micros: number): void {
    const value = micros > 0 ? micros : 0;
    let index: number;
    if (value < Histogram.LINEAR) index = value | 0;
    else index = Histogram.LINEAR + Math.floor(Math.log(value / Histogram.LINEAR) / Histogram.GROWTH);
    if (index >= Histogram.SIZE) index = Histogram.SIZE - 1;
    this.counts[index]!++;
    this.count++;
    this.sum += value;
    if (value > this.max) this.max = value;
  }

  /** Adds another histogram's counts to this one. */
  merge(other: HistogramSnapshot): void {
    for (let i = 0; i < Histogram.SIZE; i++) this.counts[i]! += other.counts[i] ?? 0;
    this.count += other.count;
    this.sum += other.sum;
    if (other.max > this.max) this.max = other.max;
  }

  /** The value (µs, bucket middle) below which `q` (0..1) of the recorded values fall; NaN when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < Histogram.SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Histogram.valueOf(i);
    }
    return this.max;
  }

  get mean(): number {
    return this.count === 0 ? Number.NaN : this.sum / this.count;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.sum = 0;
    this.max = 0;
  }

  snapshot(): HistogramSnapshot {
    return { counts: this.counts.slice(), count: this.count, sum: this.sum, max: this.max };
  }

  static from(snapshot: HistogramSnapshot): Histogram {
    const histogram = new Histogram();
    histogram.merge(snapshot);
    return histogram;
  }

  static valueOf(index: number): number {
    if (index < Histogram.LINEAR) return index + 0.5;
    return Histogram.LINEAR * Math.exp((index - Histogram.LINEAR + 0.5) * Histogram.GROWTH);
  }
}

/** A histogram as it crosses a process boundary. */
export interface HistogramSnapshot {
  counts: Uint32Array;
  count: number;
  sum: number;
  max: number;
}

/** p50/p99 (and friends) of a histogram, in microseconds. */
export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(histogram: Histogram): LatencySummary {
  return {
    count: histogram.count,
    p50: histogram.quantile(0.5),
    p90: histogram.quantile(0.9),
    p99: histogram.quantile(0.99),
    max: histogram.max,
    mean: histogram.mean,
  };
}
