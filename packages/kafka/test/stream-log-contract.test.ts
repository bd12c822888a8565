import { silentLogger } from '@atmosphere/runtime';
import type { StreamLog } from '@atmosphere/runtime/spi';
import { streamLogContract } from '@atmosphere/runtime/testing/stream-log-contract';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll } from 'vitest';
import { kafkaStreamLog } from '../src/index.ts';
import { KAFKA_KIND, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';

let kafka: TestKafka | undefined;
const topicPrefix = uniquePrefix('log');

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  await kafka?.stop();
});

async function open(): Promise<StreamLog> {
  if (!kafka) throw new Error('the test Kafka did not start');
  return kafkaStreamLog({ brokers: kafka.brokers, topicPrefix }).create({
    env: {},
    logger: silentLogger,
    settings: {},
  });
}

/** Destroys the stream topics as an operator would: the test broker forgets everything; a real one deletes them. */
async function destroyTopics(): Promise<void> {
  if (!kafka) throw new Error('the test Kafka did not start');
  if (kafka.double) {
    kafka.double.wipe();
    return;
  }
  const admin = new Kafka({ brokers: [kafka.brokers], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const ours = (await admin.listTopics()).filter((topic) => topic.startsWith(topicPrefix));
    await admin.deleteTopics({ topics: ours });
    // Kafka deletes topics asynchronously: ask until they are gone (bounded).
    const deadline = Date.now() + 30_000;
    while ((await admin.listTopics()).some((topic) => topic.startsWith(topicPrefix))) {
      if (Date.now() > deadline)
        throw new Error(`the topics under ${topicPrefix} were not deleted within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    await admin.disconnect();
  }
}

streamLogContract(`kafka (${KAFKA_KIND})`, {
  create: open,
  async reopen(log) {
    await log.close();
    return open();
  },
  async loseHistory(log) {
    await log.close();
    await destroyTopics();
    return open();
  },
});
