import { registry } from '@atmosphere/runtime/spi';
import { connectTestClient, startForSelection, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { AtmosphereError } from '@atmosphere/runtime';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import '../src/register.ts';
import { KafkaBackplane } from '../src/index.ts';
import { KAFKA_KIND, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';

let kafka: TestKafka;

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  registry.unregister('broadcaster-backplane', 'kafka');
  await kafka.stop();
});

const start = (env: Record<string, string>, settings?: Record<string, unknown>) =>
  startForSelection('broadcaster-backplane', env, settings);

describe(`the register entry (${KAFKA_KIND})`, () => {
  test('registers the kafka backplane at priority 10', () => {
    expect(registry.providers('broadcaster-backplane').map((p) => [p.kind, p.name, p.priority])).toEqual([
      ['broadcaster-backplane', 'kafka', 10],
    ]);
  });

  test('without a broker variable the local backplane wins, and the startup line says why', async () => {
    const { atmosphere, line } = await start({});
    try {
      expect(atmosphere.provider('broadcaster-backplane')?.name).toBe('local');
      expect(line).toBe(
        'broadcaster-backplane: local selected (highest priority of the available candidates (0)); kafka: unavailable — neither ATMOSPHERE_KAFKA_BROKERS nor KAFKA_BROKERS is set; set one (host:9092[,host:9092…]) to relay broadcasts between nodes through Kafka, or pass kafkaBackplane({ brokers }) in createAtmosphere({ providers })',
      );
      expect(
        atmosphere
          .describe()
          .providers.find((p) => p.kind === 'broadcaster-backplane')
          ?.candidates.find((c) => c.name === 'kafka')?.status,
      ).toBe('unavailable');
    } finally {
      await atmosphere.close();
    }
  });

  test('with KAFKA_BROKERS kafka wins, says so, and two nodes relay through it', async () => {
    const settings = { topicPrefix: uniquePrefix('register') };
    const a = await start({ KAFKA_BROKERS: kafka.brokers }, settings);
    const b = await start(
      { ATMOSPHERE_KAFKA_BROKERS: kafka.brokers, KAFKA_BROKERS: '127.0.0.1:1' },
      settings,
    );
    try {
      expect(a.line).toBe(
        'broadcaster-backplane: kafka selected (highest priority of the available candidates (10)); local: outranked — outranked by kafka (priority 10 vs 0)',
      );
      const backplane = a.atmosphere.provider('broadcaster-backplane');
      expect(backplane).toBeInstanceOf(KafkaBackplane);
      expect((backplane as KafkaBackplane).topic).toBe(`${settings.topicPrefix}backplane`);
      expect(
        a.logger.lines.some((l) =>
          l.message.startsWith(
            `kafka backplane: node ${(backplane as KafkaBackplane).nodeId} relays through ${kafka.brokers}`,
          ),
        ),
      ).toBe(true);
      // ATMOSPHERE_KAFKA_BROKERS is read before KAFKA_BROKERS (which points nowhere here).
      expect((b.atmosphere.provider('broadcaster-backplane') as KafkaBackplane).location).toBe(kafka.brokers);
      b.atmosphere.managed('/news', {}, { codec: 'text' });
      const reader = await connectTestClient(b.atmosphere.url('/news'), 'websocket');
      await a.atmosphere.broadcast('/news', 'through the environment');
      expect(await reader.messages.next(10_000)).toBe('through the environment');
      await reader.close();
    } finally {
      await a.atmosphere.close();
      await b.atmosphere.close();
    }
  });

  test('a malformed KAFKA_BROKERS fails startup loudly, naming the variable; it does not fall back to local', async () => {
    const failure = await startTestAtmosphere({ env: { KAFKA_BROKERS: 'kafka://broker' } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('INVALID_OPTION');
    expect((failure as AtmosphereError).message).toBe(
      'KAFKA_BROKERS has "kafka://broker", not host:port; expected host:port[,host:port…] (no scheme, no credentials).',
    );
  });
});
