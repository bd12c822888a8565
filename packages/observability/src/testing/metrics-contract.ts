import { type AtmosphereMetrics, DEFAULT_BROADCAST_TIMING } from '@atmosphere/runtime/spi';
import { connectTestClient, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import type { Atmosphere, Provider } from '@atmosphere/runtime';
import { afterEach, describe, expect, test } from 'vitest';

/** One implementation under test, with a way to read back what it exported. */
export interface MetricsContractSubject {
  /** The provider, as an application passes it to `createAtmosphere({ providers })`. */
  readonly provider: Provider<'metrics'>;
  /**
   * The exported value of a counter or gauge sample (as a scrape would read it; gauges are collected then),
   * or undefined when there is no such sample.
   */
  value(name: string, labels?: Readonly<Record<string, string>>): Promise<number | undefined>;
  /** The exported count and sum of a histogram sample, or undefined when there is none. */
  histogram(
    name: string,
    labels?: Readonly<Record<string, string>>,
  ): Promise<{ count: number; sum: number } | undefined>;
}

/** How the contract suite gets a fresh implementation (its own registry, nothing recorded). */
export interface MetricsContractOptions {
  create(): MetricsContractSubject | Promise<MetricsContractSubject>;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

async function created(subject: MetricsContractSubject): Promise<AtmosphereMetrics> {
  const context = { env: {}, logger: silent, settings: {} };
  expect(await subject.provider.isAvailable(context)).toBe(true);
  return await subject.provider.create(context);
}

const silent = { debug() {}, info() {}, warn() {}, error() {} };

/**
 * The contract of a `metrics` provider, as a vitest `describe` block, run against the real metrics library:
 * enabled; counters add 1 by default and the amount given, per bound label values; declaring a name twice
 * gives the same instrument; histograms count and sum observations; gauges are read when collected (the
 * latest value, every collection); and, on a running Atmosphere with real WebSocket clients, the runtime's
 * instruments count exactly what happened (connections by transport, broadcasts, deliveries, active
 * connections and broadcasters, the latency histogram for the broadcasts the runtime times).
 */
export function metricsContract(name: string, options: MetricsContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: metrics contract`, () => {
    const open: Atmosphere[] = [];
    afterEach(async () => {
      for (const atmosphere of open.splice(0)) await atmosphere.close({ timeoutMs: 0 });
    });

    test(
      'is enabled, and counters add 1 by default and the amount given, per bound label values',
      async () => {
        const subject = await options.create();
        const metrics = await created(subject);
        expect(metrics.enabled).toBe(true);
        const plain = metrics.counter({ name: 'contract_plain_total', help: 'a counter' });
        plain.add();
        plain.add(4);
        expect(await subject.value('contract_plain_total')).toBe(5);
        const labelled = metrics.counter({
          name: 'contract_labelled_total',
          help: 'a counter with a label',
          labelNames: ['kind'],
        });
        const a = labelled.labels('a');
        a.add();
        a.add();
        labelled.labels('b').add(3);
        expect(await subject.value('contract_labelled_total', { kind: 'a' })).toBe(2);
        expect(await subject.value('contract_labelled_total', { kind: 'b' })).toBe(3);
        expect(await subject.value('contract_labelled_total', { kind: 'c' })).toBeUndefined();
      },
      timeout,
    );

    test(
      'declaring a name twice gives the same instrument',
      async () => {
        const subject = await options.create();
        const metrics = await created(subject);
        const spec = { name: 'contract_twice_total', help: 'declared twice' };
        metrics.counter(spec).add();
        metrics.counter(spec).add();
        expect(await subject.value('contract_twice_total')).toBe(2);
        const histogram = { name: 'contract_twice_seconds', help: 'declared twice', buckets: [1] };
        metrics.histogram(histogram).observe(0.5);
        metrics.histogram(histogram).observe(2);
        expect(await subject.histogram('contract_twice_seconds')).toEqual({ count: 2, sum: 2.5 });
      },
      timeout,
    );

    test(
      'histograms count and sum observations, per bound label values',
      async () => {
        const subject = await options.create();
        const metrics = await created(subject);
        const histogram = metrics.histogram({
          name: 'contract_duration_seconds',
          help: 'a histogram',
          labelNames: ['kind'],
          buckets: [0.1, 1, 10],
        });
        const fast = histogram.labels('fast');
        fast.observe(0.05);
        fast.observe(0.25);
        histogram.labels('slow').observe(5);
        expect(await subject.histogram('contract_duration_seconds', { kind: 'fast' })).toEqual({
          count: 2,
          sum: 0.3,
        });
        expect(await subject.histogram('contract_duration_seconds', { kind: 'slow' })).toEqual({
          count: 1,
          sum: 5,
        });
      },
      timeout,
    );

    test(
      'gauges are read when collected: the latest value, at every collection',
      async () => {
        const subject = await options.create();
        const metrics = await created(subject);
        let current = 3;
        let reads = 0;
        metrics.gauge({
          name: 'contract_current',
          help: 'a gauge',
          labelNames: ['kind'],
          collect: (set) => {
            reads++;
            set(current, 'x');
            set(current * 2, 'y');
          },
        });
        expect(reads).toBe(0);
        expect(await subject.value('contract_current', { kind: 'x' })).toBe(3);
        current = 7;
        expect(await subject.value('contract_current', { kind: 'x' })).toBe(7);
        expect(await subject.value('contract_current', { kind: 'y' })).toBe(14);
        expect(reads).toBeGreaterThanOrEqual(3);
      },
      timeout,
    );

    test(
      "the runtime's instruments count what real WebSocket clients did, exactly",
      async () => {
        const subject = await options.create();
        const every = (await created(subject)).broadcastTiming ?? DEFAULT_BROADCAST_TIMING;
        const atmosphere = await startTestAtmosphere({ providers: [subject.provider] });
        open.push(atmosphere);
        expect(atmosphere.describe().providers.find((p) => p.kind === 'metrics')?.winner).toBe(
          subject.provider.name,
        );
        const joined = new Inbox<string>();
        atmosphere.managed('/contract', { onReady: (resource) => joined.push(resource.id) });
        const url = atmosphere.url('/contract');
        const first = await connectTestClient(url, 'websocket');
        const second = await connectTestClient(url, 'websocket');
        await joined.take(2);
        await atmosphere.broadcasters.get('/contract').broadcast('one');
        await atmosphere.broadcasters.get('/contract').broadcast('two');
        expect(await first.messages.take(2)).toEqual(['one', 'two']);
        expect(await second.messages.take(2)).toEqual(['one', 'two']);
        expect(await subject.value('atmosphere_connections_total', { transport: 'websocket' })).toBe(2);
        // A label combination never used exports no sample, or 0.
        expect((await subject.value('atmosphere_connections_total', { transport: 'sse' })) ?? 0).toBe(0);
        expect(await subject.value('atmosphere_connections_active', { transport: 'websocket' })).toBe(2);
        expect(await subject.value('atmosphere_broadcasters_active')).toBe(1);
        expect(await subject.value('atmosphere_messages_broadcast_total')).toBe(2);
        expect(await subject.value('atmosphere_messages_delivered_total')).toBe(4);
        // The first broadcast is timed, then one in `broadcastTiming`.
        expect((await subject.histogram('atmosphere_broadcast_duration_seconds'))?.count).toBe(
          Math.ceil(2 / every),
        );
        await first.close();
        await second.close();
      },
      timeout,
    );
  });
}
