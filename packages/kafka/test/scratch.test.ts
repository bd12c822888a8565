import { Kafka, logLevel } from 'kafkajs';
import { expect, test } from 'vitest';
import { startKafkaDouble } from './support/kafka-double.ts';

test('scratch', async () => {
  const broker = await startKafkaDouble();
  const kafka = new Kafka({ brokers: [broker.brokers], clientId: 'x', logLevel: logLevel.WARN });
  const admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 't', numPartitions: 3 }] });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const consumer = kafka.consumer({ groupId: 'g1', maxWaitTimeInMs: 500 });
  await consumer.connect();
  await consumer.subscribe({ topics: ['t'] });
  const got: string[] = [];
  const joined = new Promise((r) => consumer.on(consumer.events.GROUP_JOIN, r));
  await consumer.run({ autoCommit: false, eachMessage: async ({ message }) => { got.push(`${message.value}:${JSON.stringify(message.headers)}`); } });
  await joined;
  await producer.send({ topic: 't', messages: [{ key: 'a', value: 'one', headers: { h: 'x' } }, { key: 'b', value: 'two' }] });
  await producer.send({ topic: 't', messages: [{ key: 'a', value: 'three' }] });
  const t0 = Date.now();
  while (got.length < 3 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 50));
  console.log(got, await admin.fetchTopicOffsets('t'));
  expect(got.length).toBe(3);
  await consumer.disconnect(); await producer.disconnect(); await admin.disconnect();
  await broker.stop();
});
