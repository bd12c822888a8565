import { Counter, Histogram, Registry } from 'prom-client';
import { describe, expect, test } from 'vitest';
import { FoldedCounter, FoldedHistogram, foldingSupported } from '../src/folded-instruments.ts';
import { PrometheusMetrics } from '../src/prometheus-metrics.ts';
import { sample } from './prometheus-text.ts';

const BUCKETS = [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1];

/** Values on every side of the buckets: each bound itself, just under and over it, below the first, past the last. */
function observations(bounds: readonly number[]): number[] {
  const values = [0, -1, 2.5, 1e9, 3e-7, 0.3];
  for (const bound of bounds) values.push(bound, bound * (1 - 1e-12), bound * (1 + 1e-12), bound);
  return values;
}

/** The same metric, made by prom-client and folded, in registries of their own. */
function pair<M>(make: (registry: Registry, folded: boolean) => M): {
  theirs: M;
  ours: M;
  oursRegistry: Registry;
  texts(): Promise<[string, string]>;
} {
  const theirsRegistry = new Registry();
  const oursRegistry = new Registry();
  return {
    theirs: make(theirsRegistry, false),
    ours: make(oursRegistry, true),
    oursRegistry,
    texts: async () => [await theirsRegistry.metrics(), await oursRegistry.metrics()],
  };
}

function histogramPair(labelNames: string[] = [], buckets: number[] = BUCKETS) {
  return pair((registry, folded) => {
    const config = { name: 'h_seconds', help: 'a histogram', labelNames, buckets, registers: [registry] };
    return folded ? new FoldedHistogram(config) : new Histogram(config);
  });
}

function counterPair(labelNames: string[] = []) {
  return pair((registry, folded) => {
    const config = { name: 'c_total', help: 'a counter', labelNames, registers: [registry] };
    return folded ? new FoldedCounter(config) : new Counter(config);
  });
}

describe('folded histogram: the exposition is prom-client’s for the same observations', () => {
  test('no label: every bucket, +Inf, sum and count, before and after observations', async () => {
    const { theirs, ours, texts } = histogramPair();
    const [emptyTheirs, emptyOurs] = await texts();
    expect(emptyOurs).toBe(emptyTheirs);
    for (const value of observations(BUCKETS)) {
      theirs.observe(value);
      ours.observe(value);
    }
    const [text, folded] = await texts();
    expect(folded).toBe(text);
    expect(sample(folded, 'h_seconds_count')).toBe(observations(BUCKETS).length);
  });

  test('token-count buckets (integers) and unsorted ones', async () => {
    for (const buckets of [
      [1, 4, 16, 64, 256, 1024],
      [0.5, 0.1, 2],
    ]) {
      const { theirs, ours, texts } = histogramPair([], buckets);
      for (const value of [...observations(buckets), 3, 17, 1024, 1025]) {
        theirs.observe(value);
        ours.observe(value);
      }
      const [text, folded] = await texts();
      expect(folded).toBe(text);
    }
  });

  test('labels: bound children, label objects, series listed in the order first observed', async () => {
    const { theirs, ours, texts } = histogramPair(['model', 'kind']);
    const bound = [theirs.labels('m', 'out'), ours.labels('m', 'out')];
    // A child bound and never observed has no series.
    theirs.labels('never', 'x');
    ours.labels('never', 'x');
    for (const value of observations(BUCKETS)) {
      for (const child of bound) child.observe(value);
      theirs.observe({ kind: 'in', model: 'm' }, value * 2);
      ours.observe({ kind: 'in', model: 'm' }, value * 2);
      theirs.labels({ model: 'only' }).observe(value);
      ours.labels({ model: 'only' }).observe(value);
    }
    const [text, folded] = await texts();
    expect(folded).toBe(text);
    expect(folded).not.toContain('never');
    const [theirsJson, oursJson] = [await theirs.get(), await ours.get()];
    expect(oursJson).toEqual(theirsJson);
  });

  test('a value equal to a bucket’s upper bound counts in that bucket (le), just over it in the next', async () => {
    const registry = new Registry();
    const histogram = new FoldedHistogram({
      name: 'le_seconds',
      help: 'bounds',
      buckets: [0.001, 0.01, 0.1],
      registers: [registry],
    });
    histogram.observe(0.001);
    histogram.observe(0.01);
    histogram.observe(0.010000000000000002);
    histogram.observe(0.1);
    histogram.observe(0.1000001);
    const text = await registry.metrics();
    expect(sample(text, 'le_seconds_bucket', 'le="0.001"')).toBe(1);
    expect(sample(text, 'le_seconds_bucket', 'le="0.01"')).toBe(2);
    expect(sample(text, 'le_seconds_bucket', 'le="0.1"')).toBe(4);
    expect(sample(text, 'le_seconds_bucket', 'le="+Inf"')).toBe(5);
    expect(sample(text, 'le_seconds_count')).toBe(5);
  });

  test('reset, zero, remove and startTimer as prom-client’s', async () => {
    const { theirs, ours, oursRegistry, texts } = histogramPair(['kind']);
    const steps: ((histogram: Histogram<string>) => void)[] = [
      (h) => h.labels('a').observe(0.002),
      (h) => h.labels('b').observe(0.2),
      (h) => h.remove('a'),
      (h) => h.labels('a').observe(0.3),
      (h) => h.zero({ kind: 'z' }),
      (h) => h.reset(),
      (h) => h.labels('b').observe(0.02),
    ];
    for (const step of steps) {
      step(theirs);
      step(ours);
      const [text, folded] = await texts();
      expect(folded).toBe(text);
    }
    const end = ours.startTimer({ kind: 't' });
    expect(end()).toBeGreaterThanOrEqual(0);
    expect(sample(await oursRegistry.metrics(), 'h_seconds_count', 'kind="t"')).toBe(1);
  });

  test('an unlabelled histogram after a registry reset has no series until observed, as prom-client’s', async () => {
    const { theirs, ours, texts } = histogramPair();
    theirs.observe(1);
    ours.observe(1);
    theirs.reset();
    ours.reset();
    let [text, folded] = await texts();
    expect(folded).toBe(text);
    theirs.observe(0.5);
    ours.observe(0.5);
    [text, folded] = await texts();
    expect(folded).toBe(text);
  });

  test('refuses what prom-client refuses', () => {
    const { theirs, ours } = histogramPair(['kind']);
    for (const histogram of [theirs, ours]) {
      expect(() => histogram.labels('a', 'b')).toThrow(/Invalid number of arguments/);
      expect(() => histogram.observe({ other: 'x' }, 1)).toThrow(/not included in initial labelset/);
      expect(() => histogram.labels('a').observe(Number.NaN)).toThrow(TypeError);
    }
  });
});

describe('folded counter: the exposition is prom-client’s for the same increments', () => {
  test('no label: 0 before anything, then the sum of the increments', async () => {
    const { theirs, ours, texts } = counterPair();
    let [text, folded] = await texts();
    expect(folded).toBe(text);
    for (const value of [undefined, 4, 0, 0.1, 0.2, 1e6]) {
      theirs.inc(value);
      ours.inc(value);
    }
    [text, folded] = await texts();
    expect(folded).toBe(text);
    expect(sample(folded, 'c_total')).toBe(1000005.3);
  });

  test('labels: an increment of 0 makes the series, order of first increment, reset and remove', async () => {
    const { theirs, ours, texts } = counterPair(['transport']);
    const steps: ((counter: Counter<string>) => void)[] = [
      (c) => c.labels('sse'),
      (c) => c.labels('websocket').inc(0),
      (c) => c.labels('sse').inc(2),
      (c) => c.inc({ transport: 'polling' }),
      (c) => c.inc({ transport: 'polling' }, 3),
      (c) => c.remove('sse'),
      (c) => c.labels('sse').inc(),
      (c) => c.reset(),
      (c) => c.labels('long-polling').inc(7),
    ];
    for (const step of steps) {
      step(theirs);
      step(ours);
      const [text, folded] = await texts();
      expect(folded).toBe(text);
      expect(await ours.get()).toEqual(await theirs.get());
    }
  });

  test('refuses what prom-client refuses', () => {
    const { theirs, ours } = counterPair();
    for (const counter of [theirs, ours]) {
      expect(() => counter.inc(-1)).toThrow('It is not possible to decrease a counter');
      expect(() => counter.inc(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    }
  });
});

describe('PrometheusMetrics over an application’s registry', () => {
  test('the installed prom-client keeps its series as the folded instruments write them', () => {
    expect(foldingSupported()).toBe(true);
    const registry = new Registry();
    const metrics = new PrometheusMetrics({ registry });
    metrics.counter({ name: 'kind_total', help: 'kind' });
    metrics.histogram({ name: 'kind_seconds', help: 'kind' });
    expect(registry.getSingleMetric('kind_total')).toBeInstanceOf(FoldedCounter);
    expect(registry.getSingleMetric('kind_seconds')).toBeInstanceOf(FoldedHistogram);
  });

  test('the registry holds prom-client metrics; a second instance on it shares them', async () => {
    const registry = new Registry();
    const first = new PrometheusMetrics({ registry });
    const second = new PrometheusMetrics({ registry });
    const spec = { name: 'shared_seconds', help: 'shared', labelNames: ['kind'], buckets: [0.1, 1] };
    first.histogram(spec).labels('a').observe(0.1);
    second.histogram(spec).labels('a').observe(0.5);
    first.counter({ name: 'shared_total', help: 'shared' }).add(2);
    second.counter({ name: 'shared_total', help: 'shared' }).add(3);
    expect(registry.getSingleMetric('shared_seconds')).toBeInstanceOf(Histogram);
    expect(registry.getSingleMetric('shared_total')).toBeInstanceOf(Counter);
    const text = await registry.metrics();
    expect(sample(text, 'shared_seconds_bucket', 'le="0.1",kind="a"')).toBe(1);
    expect(sample(text, 'shared_seconds_bucket', 'le="1",kind="a"')).toBe(2);
    expect(sample(text, 'shared_seconds_count', 'kind="a"')).toBe(2);
    expect(sample(text, 'shared_total')).toBe(5);
    expect(text).toContain('# HELP shared_seconds shared\n# TYPE shared_seconds histogram');
  });

  test('a histogram and a counter the application registered first are used through prom-client', async () => {
    const registry = new Registry();
    const own = new Histogram({ name: 'own_seconds', help: 'own', buckets: [1], registers: [registry] });
    const ownCounter = new Counter({ name: 'own_total', help: 'own', registers: [registry] });
    const metrics = new PrometheusMetrics({ registry });
    metrics.histogram({ name: 'own_seconds', help: 'own' }).observe(0.5);
    metrics.counter({ name: 'own_total', help: 'own' }).add(2);
    own.observe(2);
    ownCounter.inc();
    const text = await registry.metrics();
    expect(sample(text, 'own_seconds_bucket', 'le="1"')).toBe(1);
    expect(sample(text, 'own_seconds_count')).toBe(2);
    expect(sample(text, 'own_total')).toBe(3);
  });
});
