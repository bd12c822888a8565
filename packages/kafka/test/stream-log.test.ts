import { AtmosphereError, silentLogger } from '@atmosphere/runtime';
import { connectTestClient, recordingLogger, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  kafkaBackplane,
  type KafkaStreamLog,
  kafkaStreamLog,
  type KafkaStreamLogOptions,
} from '../src/index.ts';
import { startKafkaDouble } from './support/kafka-double.ts';
import { KAFKA_KIND, REAL_BROKERS, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';

let kafka: TestKafka;
let logs: KafkaStreamLog[] = [];

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterEach(async () => {
  await Promise.all(logs.map((log) => log.close()));
  logs = [];
});

afterAll(async () => {
  await kafka.stop();
});

async function open(options: KafkaStreamLogOptions, logger = silentLogger): Promise<KafkaStreamLog> {
  const log = (await kafkaStreamLog({ brokers: kafka.brokers, ...options }).create({
    env: {},
    logger,
    settings: {},
  })) as KafkaStreamLog;
  logs.push(log);
  return log;
}

describe(`the Kafka stream log across nodes (${KAFKA_KIND})`, () => {
  test('two stores on the same prefix share streams: numbering, epoch, trims and deletes', async () => {
    const topicPrefix = uniquePrefix('shared-log');
    const a = await open({ topicPrefix });
    const b = await open({ topicPrefix });
    const first = await a.append('/chat/lobby', [{ payload: 'one' }, { payload: 'two', targets: ['t'] }]);
    expect(first.seq).toBe(1);
    expect(await b.append('/chat/lobby', [{ payload: 'three' }])).toEqual({ epoch: first.epoch, seq: 3 });
    const read = await a.read('/chat/lobby', 1);
    expect(read).toMatchObject({ epoch: first.epoch, first: 1, last: 3 });
    expect(read?.records.map((r) => [r.seq, r.payload, r.targets])).toEqual([
      [2, 'two', ['t']],
      [3, 'three', undefined],
    ]);
    await b.trim('/chat/lobby', 3);
    expect(await a.state('/chat/lobby')).toEqual({ epoch: first.epoch, first: 3, last: 3 });
    await a.delete('/chat/lobby');
    expect(await b.state('/chat/lobby')).toBeUndefined();
    expect(await b.read('/chat/lobby', 0)).toBeUndefined();
    const fresh = await b.append('/chat/lobby', [{ payload: 'new epoch' }]);
    expect(fresh.seq).toBe(1);
    expect(fresh.epoch).not.toBe(first.epoch);
    expect(await a.append('/chat/lobby', [{ payload: 'after' }])).toEqual({ epoch: fresh.epoch, seq: 2 });
    expect((await b.read('/chat/lobby', 0))?.records.map((r) => r.payload)).toEqual(['new epoch', 'after']);
  });

  test('a stream lives in <prefix>log.<readable name>.<hash>; names that differ only in odd characters never share one', async () => {
    const log = await open({ topicPrefix: 'p.' });
    expect(log.topicOf('/chat/lobby')).toMatch(/^p\.log\._chat_lobby\.[0-9a-f]{16}$/);
    expect(log.topicOf('/chat/lobby')).not.toBe(log.topicOf('_chat_lobby'));
    expect(log.topicOf('x'.repeat(1000)).length).toBeLessThan(140);
  });

  test('a garbage record in a stream topic is skipped with a warning; the records around it are read', async () => {
    const topicPrefix = uniquePrefix('garbage-log');
    const logger = recordingLogger();
    const log = await open({ topicPrefix }, logger);
    const { epoch } = await log.append('s', [{ payload: 'before' }]);
    const producer = new Kafka({ brokers: [kafka.brokers], logLevel: logLevel.NOTHING }).producer({
      createPartitioner: () => () => 0,
    });
    await producer.connect();
    try {
      await producer.send({
        topic: log.topicOf('s'),
        messages: [{ value: 'garbage', headers: { 'atmosphere-log': 'entry' } }],
      });
    } finally {
      await producer.disconnect();
    }
    expect(await log.append('s', [{ payload: 'after' }])).toEqual({ epoch, seq: 3 });
    const read = await log.read('s', 0);
    expect(read?.records.map((r) => [r.seq, r.payload])).toEqual([
      [1, 'before'],
      [3, 'after'],
    ]);
    expect(logger.lines.filter((l) => l.level === 'warn').map((l) => l.message)).toEqual([
      `kafka stream log: skipped a record of ${log.topicOf('s')}: record 2 has no epoch`,
    ]);
  });

  test('an entry over maxRecordBytes rejects the append with MESSAGE_TOO_LARGE; the stream goes on', async () => {
    const log = await open({ topicPrefix: uniquePrefix('big-log'), maxRecordBytes: 1_000 });
    const { epoch } = await log.append('s', [{ payload: 'small' }]);
    const failure = await log.append('s', [{ payload: 'fits' }, { payload: 'x'.repeat(2_000) }]).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('MESSAGE_TOO_LARGE');
    expect((failure as AtmosphereError).message).toContain(
      "larger than the Kafka stream log's maxRecordBytes (1000)",
    );
    // Nothing of the refused append was written: the next one follows the first.
    expect(await log.append('s', [{ payload: 'next' }])).toEqual({ epoch, seq: 2 });
  });

  test('brokers down: create() rejects with PROVIDER_FAILED naming the brokers', async () => {
    const gone = await startKafkaDouble();
    await gone.stop();
    const failure = await Promise.resolve(
      kafkaStreamLog({ brokers: gone.brokers, startTimeoutMs: 10_000 }).create({
        env: {},
        logger: silentLogger,
        settings: {},
      }),
    ).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('PROVIDER_FAILED');
    expect((failure as AtmosphereError).message).toContain(
      `The Kafka stream log could not connect to ${gone.brokers}:`,
    );
    expect((failure as AtmosphereError).message).toContain('ECONNREFUSED');
  });

  test('an explicitly configured log whose brokers are down fails startup, naming the brokers; no fallback to memory', async () => {
    const gone = await startKafkaDouble();
    await gone.stop();
    const failure = await startTestAtmosphere({
      providers: [kafkaStreamLog({ brokers: gone.brokers, startTimeoutMs: 10_000 })],
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('PROVIDER_FAILED');
    expect((failure as AtmosphereError).message).toContain(
      'stream-log: provider kafka is configured but failed to start',
    );
    expect((failure as AtmosphereError).message).toContain(
      `The Kafka stream log could not connect to ${gone.brokers}`,
    );
  });

  test('two nodes with the Kafka backplane and log: a broadcast is relayed and logged once; the other node reads it from the log', async () => {
    const topicPrefix = uniquePrefix('cluster-log');
    const providers = () => [
      kafkaBackplane({ brokers: kafka.brokers, topicPrefix, partitions: 1 }),
      kafkaStreamLog({ brokers: kafka.brokers, topicPrefix }),
    ];
    const a = await startTestAtmosphere({ providers: providers() });
    const b = await startTestAtmosphere({ providers: providers() });
    try {
      expect(a.describe().providers.find((p) => p.kind === 'stream-log')?.winner).toBe('kafka');
      b.managed('/news', {}, { codec: 'text' });
      const reader = await connectTestClient(b.url('/news'), 'websocket');
      await a.broadcast('/news', 'logged and relayed');
      expect(await reader.messages.next(10_000)).toBe('logged and relayed');
      await reader.close();
      const log = b.provider('stream-log') as KafkaStreamLog;
      const read = await log.read('/news', 0);
      expect(read?.records.map((r) => [r.seq, r.payload])).toEqual([[1, 'logged and relayed']]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

describe.skipIf(REAL_BROKERS !== undefined)(
  'the log when the broker goes away (test broker only: a shared real cluster is not ours to stop)',
  () => {
    test('appends made while a send is on its way go out together, in order, in few requests', async () => {
      const own = await startKafkaDouble();
      try {
        const log = (await kafkaStreamLog({ brokers: own.brokers, topicPrefix: 'batching.' }).create({
          env: {},
          logger: silentLogger,
          settings: {},
        })) as KafkaStreamLog;
        logs.push(log);
        await log.append('s', [{ payload: 'first' }]);
        const before = own.requests.get('Produce') ?? 0;
        const positions = await Promise.all(
          Array.from({ length: 300 }, (_, i) =>
            log.append('s', [{ payload: `m${i}` }, { payload: `m${i}+` }]),
          ),
        );
        expect(positions.map((p) => p.seq)).toEqual(Array.from({ length: 300 }, (_, i) => 2 + 2 * i));
        const requests = (own.requests.get('Produce') ?? 0) - before;
        expect(requests).toBeLessThanOrEqual(10);
        const read = await log.read('s', 0, { limit: 1_000 });
        expect(read?.records).toHaveLength(601);
        expect(read?.records[600]).toMatchObject({ seq: 601, payload: 'm299+' });
      } finally {
        await own.stop();
      }
    });

    test('an append while Kafka is gone rejects with the reason; once it is back the numbering goes on', async () => {
      const own = await startKafkaDouble();
      try {
        const log = (await kafkaStreamLog({ brokers: own.brokers, topicPrefix: 'outage.' }).create({
          env: {},
          logger: silentLogger,
          settings: {},
        })) as KafkaStreamLog;
        logs.push(log);
        const { epoch } = await log.append('s', [{ payload: 'before' }]);
        await own.stop();
        const failure = await log.append('s', [{ payload: 'during' }]).then(
          () => undefined,
          (error: unknown) => error,
        );
        expect(failure).toBeInstanceOf(Error);
        expect((failure as Error).message).toMatch(/ECONNREFUSED|Connection error|closed/);
        await own.start();
        expect(await log.append('s', [{ payload: 'after' }])).toEqual({ epoch, seq: 2 });
        expect((await log.read('s', 0))?.records.map((r) => r.payload)).toEqual(['before', 'after']);
      } finally {
        await own.stop();
      }
    }, 60_000);
  },
);
