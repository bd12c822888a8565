import { startKafkaDouble, type KafkaDouble } from './kafka-double.ts';

/**
 * The Kafka the integration tests run against: the brokers of `KAFKA_BROKERS` when it is set (a real cluster),
 * otherwise the test broker of `kafka-double.ts` on 127.0.0.1. `kind` goes into every describe title, so the
 * test output says which one ran.
 */
export interface TestKafka {
  readonly kind: 'real Kafka' | 'Kafka wire-protocol test broker';
  readonly brokers: string;
  /** The test broker, when it is the one in use (fault tests need it to stop and start). */
  readonly double: KafkaDouble | undefined;
  stop(): Promise<void>;
}

export const REAL_BROKERS = process.env['KAFKA_BROKERS']?.trim() || undefined;

export async function startTestKafka(): Promise<TestKafka> {
  if (REAL_BROKERS !== undefined)
    return { kind: 'real Kafka', brokers: REAL_BROKERS, double: undefined, stop: async () => undefined };
  const double = await startKafkaDouble();
  return {
    kind: 'Kafka wire-protocol test broker',
    brokers: double.brokers,
    double,
    stop: () => double.stop(),
  };
}

export const KAFKA_KIND: TestKafka['kind'] =
  REAL_BROKERS !== undefined ? 'real Kafka' : 'Kafka wire-protocol test broker';

/** A topic prefix no other test run uses (real clusters are shared between runs). */
export function uniquePrefix(label: string): string {
  return `atmosphere-test.${label}.${process.pid}.${Date.now().toString(36)}.`;
}
