import { AtmosphereError } from '@atmosphere/runtime';
import { startTestAtmosphere, TestScope } from '@atmosphere/runtime/testing';
import type { Provider } from '@atmosphere/runtime/spi';
import { Registry } from 'prom-client';
import { afterEach, expect, test } from 'vitest';
import { metrics } from '../src/index.ts';
import { histogramSample, sampleValue } from '../src/testing/index.ts';

const scope = new TestScope();
afterEach(() => scope.close());

test('broadcastTiming: the first broadcast and then one in N is timed; every broadcast is counted', async () => {
  const registry = new Registry();
  const atmosphere = scope.track(
    await startTestAtmosphere({ providers: [metrics({ registry, broadcastTiming: 4 })] }),
  );
  atmosphere.managed('/feed', {});
  const broadcaster = atmosphere.broadcasters.get('/feed');
  for (let i = 0; i < 10; i++) await broadcaster.broadcast(`m${i}`);
  expect(await sampleValue(registry, 'atmosphere_messages_broadcast_total')).toBe(10);
  // Broadcasts 1, 5 and 9.
  expect((await histogramSample(registry, 'atmosphere_broadcast_duration_seconds'))?.count).toBe(3);
  const help = (await registry.getMetricsAsJSON()).find(
    (metric) => metric.name === 'atmosphere_broadcast_duration_seconds',
  )?.help;
  expect(help).toContain('one broadcast in 4');
});

test.each([0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY])(
  'broadcastTiming %s is refused with a clear error, at startup, for metrics() and for a provider of another make',
  async (broadcastTiming) => {
    await expect(
      startTestAtmosphere({ providers: [metrics({ registry: new Registry(), broadcastTiming })] }),
    ).rejects.toSatisfy(
      (error: unknown) =>
        AtmosphereError.isInstance(error) &&
        error.code === 'INVALID_OPTION' &&
        error.message.includes('metrics({ broadcastTiming })') &&
        error.message.includes(String(broadcastTiming)),
    );
    // A provider of another make that gives a bad value: the startup fails, naming it.
    const odd: Provider<'metrics'> = {
      kind: 'metrics',
      name: 'odd',
      priority: 10,
      required: true,
      isAvailable: () => true,
      create: () => ({
        name: 'odd',
        enabled: true,
        broadcastTiming,
        counter: () => ({ add() {}, labels: () => ({ add() {} }) }),
        histogram: () => ({ observe() {}, labels: () => ({ observe() {} }) }),
        gauge: () => {},
      }),
    };
    const started = startTestAtmosphere({ providers: [odd] });
    await expect(started).rejects.toSatisfy(
      (error: unknown) =>
        AtmosphereError.isInstance(error) &&
        error.code === 'INVALID_OPTION' &&
        error.message.includes('odd') &&
        error.message.includes('broadcastTiming'),
    );
  },
);
