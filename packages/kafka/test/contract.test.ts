import { backplaneContract } from '@atmosphere/runtime/testing/backplane-contract';
import { afterAll, beforeAll } from 'vitest';
import { kafkaBackplane } from '../src/index.ts';
import { KAFKA_KIND, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';

let kafka: TestKafka | undefined;
const prefix = uniquePrefix('contract');

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  await kafka?.stop();
});

backplaneContract(`kafka (${KAFKA_KIND})`, () => {
  if (!kafka) throw new Error('the test Kafka did not start');
  return kafkaBackplane({ brokers: kafka.brokers, topicPrefix: prefix, partitions: 3 });
});
