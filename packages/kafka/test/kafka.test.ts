import { once } from 'node:events';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { AtmosphereError } from '@atmosphere/runtime';
import type { BackplaneMessage, RelayFailure } from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  eventually,
  startTestAtmosphere,
  type TestClient,
} from '@atmosphere/runtime/testing';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { kafkaBackplane } from '../src/index.ts';
import { encodeRelayRecord, RELAY_HEADERS } from '../src/wire-format.ts';
import { startKafkaDouble } from './support/kafka-double.ts';
import { KAFKA_KIND, REAL_BROKERS, startTestKafka, type TestKafka, uniquePrefix } from './support/broker.ts';
import { type BareBackplane, startBare, startNode, type TestNode } from './support/nodes.ts';

let kafka: TestKafka;
let nodes: TestNode[] = [];
let bares: BareBackplane[] = [];
let clients: TestClient[] = [];
let producers: Producer[] = [];

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.atmosphere.close()));
  await Promise.all(bares.map((bare) => bare.backplane.close()));
  await Promise.all(producers.map((producer) => producer.disconnect()));
  clients = [];
  nodes = [];
  bares = [];
  producers = [];
});

afterAll(async () => {
  await kafka.stop();
});

async function node(...args: Parameters<typeof startNode>): Promise<TestNode> {
  const started = await startNode(...args);
  nodes.push(started);
  return started;
}

async function bare(...args: Parameters<typeof startBare>): Promise<BareBackplane> {
  const started = await startBare(...args);
  bares.push(started);
  return started;
}

async function client(at: TestNode, room: string, transport: 'websocket' | 'sse' = 'websocket') {
  const connected = await connectTestClient(at.atmosphere.url(`/chat/${room}`), transport);
  clients.push(connected);
  return connected;
}

/** A raw kafkajs producer of the test's own, to put foreign records on the relay topic. */
async function rawProducer(brokers = kafka.brokers): Promise<Producer> {
  const producer = new Kafka({
    brokers: [brokers],
    clientId: 'test-raw',
    logLevel: logLevel.NOTHING,
  }).producer({
    allowAutoTopicCreation: false,
    createPartitioner: () => () => 0,
  });
  await producer.connect();
  producers.push(producer);
  return producer;
}

const NODE = Buffer.alloc(16, 7);

describe(`the relay record (${KAFKA_KIND})`, () => {
  test('targets, exclusions, positions, bytes and text survive the hop exactly', async () => {
    const topicPrefix = uniquePrefix('hop');
    const a = await bare({ brokers: kafka.brokers, topicPrefix, partitions: 2 });
    const b = await bare({ brokers: kafka.brokers, topicPrefix, partitions: 2 });
    const messages: BackplaneMessage[] = [
      {
        broadcaster: '/ai/run-1',
        payload: '{"type":"streaming-text","text":"hé"}',
        targets: ['t-1'],
        position: { epoch: 'e-42', seq: 7 },
      },
      { broadcaster: '/chat/lobby', payload: 'everyone but me', exclude: 'sender-1' },
      { broadcaster: '/chat/lobby', payload: Uint8Array.from([0, 255, 1, 128]), targets: [] },
      {
        broadcaster: '/ü/ ✓',
        payload: '',
        targets: ['a', 'ü'],
        exclude: 'x',
        position: { epoch: 'E', seq: 9_007_199_254_740_991 },
      },
    ];
    for (const message of messages) a.backplane.publish(message);
    const received = await b.received.take(messages.length, 10_000);
    // One broadcaster's messages keep their order; across broadcasters (partitions) they may interleave.
    const sorted = (list: BackplaneMessage[]) =>
      [...list].sort((x, y) => x.broadcaster.localeCompare(y.broadcaster));
    expect(
      sorted(received).map((m) => ({
        ...m,
        payload: typeof m.payload === 'string' ? m.payload : [...m.payload],
      })),
    ).toEqual(
      sorted(messages).map((m) => ({
        ...m,
        payload: typeof m.payload === 'string' ? m.payload : [...m.payload],
      })),
    );
    const binary = received.find((m) => typeof m.payload !== 'string')!;
    expect(binary.payload).toBeInstanceOf(Uint8Array);
    expect(b.backplane.stats()).toMatchObject({ received: 4, refused: { malformed: 0, tooLarge: 0 } });
    await eventually(() => a.backplane.stats().published === 4, 'the four sends to be acknowledged');
    // No echo: a never receives its own records (a fence from b proves nothing of a's came back before it).
    b.backplane.publish({ broadcaster: '/chat/lobby', payload: 'fence' });
    expect((await a.received.next(10_000)).payload).toBe('fence');
    expect(a.received.items).toHaveLength(1);
  });

  test('a record in the documented format from another process is delivered to the clients', async () => {
    const topicPrefix = uniquePrefix('foreign');
    const b = await node({ brokers: kafka.brokers, topicPrefix, partitions: 1 });
    const onB = await client(b, 'lobby', 'sse');
    const producer = await rawProducer();
    const { record } = encodeRelayRecord(
      NODE,
      { broadcaster: '/chat/lobby', payload: 'from another process' },
      0,
    );
    await producer.send({ topic: `${topicPrefix}backplane`, messages: [record] });
    expect(await onB.messages.next(10_000)).toBe('from another process');
    expect(record.headers[RELAY_HEADERS.version]?.toString()).toBe('1');
  });
});

describe(`malformed and oversized records (${KAFKA_KIND})`, () => {
  test('garbage on the topic is dropped with a throttled warning naming the reason; relaying goes on', async () => {
    const topicPrefix = uniquePrefix('garbage');
    const a = await node({ brokers: kafka.brokers, topicPrefix, partitions: 1 });
    const b = await node({ brokers: kafka.brokers, topicPrefix, partitions: 1 });
    const onA = await client(a, 'lobby', 'sse');
    const onB = await client(b, 'lobby');
    const producer = await rawProducer();
    const valid = encodeRelayRecord(NODE, { broadcaster: '/chat/lobby', payload: 'ok' }, 0).record;
    const targets = (bytes: number[]) => ({
      ...valid,
      headers: { ...valid.headers, [RELAY_HEADERS.targets]: Buffer.from(bytes) },
    });
    const garbage = [
      { key: Buffer.from('/chat/lobby'), value: Buffer.from('hello') },
      { key: null, value: Buffer.from('{"broadcaster":"/chat/lobby","payload":"json"}') },
      { ...valid, headers: { ...valid.headers, [RELAY_HEADERS.version]: Buffer.from('99') } },
      { ...valid, headers: { ...valid.headers, [RELAY_HEADERS.node]: Buffer.from('short') } },
      { ...valid, key: null },
      targets([0xff, 0xff, 0xff, 0xff]),
      targets([0, 0, 0, 1, 0, 0, 0, 200, 0x61]),
      {
        ...valid,
        headers: {
          ...valid.headers,
          [RELAY_HEADERS.epoch]: Buffer.from('e'),
          [RELAY_HEADERS.seq]: Buffer.from('-3'),
        },
      },
      { ...valid, headers: { ...valid.headers, [RELAY_HEADERS.seq]: Buffer.from('3') } },
    ];
    await producer.send({ topic: `${topicPrefix}backplane`, messages: garbage });
    await a.atmosphere.broadcast('/chat/lobby', 'after the garbage');
    expect(await onB.messages.next(10_000)).toBe('after the garbage');
    expect(await onA.messages.next(10_000)).toBe('after the garbage');
    await b.atmosphere.broadcast('/chat/lobby', 'from b');
    expect(await onA.messages.next(10_000)).toBe('from b');
    expect(onB.messages.items).toEqual(['after the garbage', 'from b']);
    for (const n of [a, b]) {
      expect(n.backplane.stats().refused.malformed).toBe(garbage.length);
      expect(n.backplane.connected).toBe(true);
    }
    // The first is a warning; the same kind again within 10 s goes to debug, each with its reason.
    expect(b.lines('warn', 'dropped a malformed record at')).toHaveLength(1);
    const reasons = b.logger.lines.filter((l) => l.message.includes('malformed')).map((l) => l.message);
    expect(reasons).toHaveLength(garbage.length);
    for (const reason of [
      'not a relay record (no atmosphere-v header)',
      'format version 99 is not supported',
      'the sender node id is missing or not 16 bytes',
      'the record has no key',
      'the target count (4294967295) exceeds what the header can hold',
      'a target length (200) runs past the end of the targets header',
      'the sequence number "-3" is not a positive integer',
      'a stream position needs both atmosphere-epoch and atmosphere-seq',
    ])
      expect(
        reasons.some((line) => line.includes(reason)),
        reason,
      ).toBe(true);
  });

  test('an oversized record is dropped by the receiving node, and never sent by a node that knows the limit', async () => {
    const topicPrefix = uniquePrefix('size');
    const generous = await node({ brokers: kafka.brokers, topicPrefix, partitions: 1 });
    const strict = await node({ brokers: kafka.brokers, topicPrefix, partitions: 1, maxMessageBytes: 1024 });
    const onGenerous = await client(generous, 'lobby');
    const onStrict = await client(strict, 'lobby');
    const big = 'x'.repeat(2000);
    await generous.atmosphere.broadcast('/chat/lobby', big);
    await generous.atmosphere.broadcast('/chat/lobby', 'small');
    expect(await onStrict.messages.next(10_000)).toBe('small');
    expect(strict.backplane.stats().refused.tooLarge).toBe(1);
    expect(strict.lines('warn', 'larger than maxMessageBytes (1024)')).toHaveLength(1);
    // The strict node does not send what it would refuse; its own clients still get it.
    await strict.atmosphere.broadcast('/chat/lobby', big);
    expect(await onStrict.messages.next(10_000)).toBe(big);
    await strict.atmosphere.broadcast('/chat/lobby', 'fence');
    expect((await onGenerous.messages.take(3, 10_000)).map((m) => m.slice(0, 10))).toEqual([
      big.slice(0, 10),
      'small',
      'fence',
    ]);
    expect(strict.backplane.stats().notRelayed.tooLarge).toBe(1);
    expect(strict.lines('warn', 'delivered on this node only')).toHaveLength(1);
  });
});

describe(`startup (${KAFKA_KIND})`, () => {
  test('brokers down at start: createAtmosphere() rejects with the connection error, the brokers and what to set', async () => {
    const gone = await startKafkaDouble();
    await gone.stop();
    const failure = await startTestAtmosphere({
      providers: [kafkaBackplane({ brokers: gone.brokers, startTimeoutMs: 10_000 })],
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    const error = failure as AtmosphereError;
    expect(error.code).toBe('PROVIDER_FAILED');
    expect(error.message).toContain(`The Kafka backplane could not start on ${gone.brokers}: connecting: `);
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('point kafkaBackplane({ brokers }) at running brokers');
  });

  test('a broker that accepts connections but never answers: createAtmosphere() rejects after startTimeoutMs', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket.on('error', () => undefined));
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const failure = await startTestAtmosphere({
        env: { KAFKA_BROKERS: `127.0.0.1:${port}` },
        providers: [kafkaBackplane({ startTimeoutMs: 500 })],
      }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(AtmosphereError.isInstance(failure)).toBe(true);
      const error = failure as AtmosphereError;
      expect(error.code).toBe('PROVIDER_FAILED');
      expect(error.message).toContain(`The Kafka backplane could not reach 127.0.0.1:${port} within 500 ms`);
      expect(error.message).toContain('point KAFKA_BROKERS at running brokers');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  test('an explicitly configured backplane with a mistake fails startup with the reason; it never falls back to local', async () => {
    for (const [options, code, reason] of [
      [
        { brokers: 'http://127.0.0.1:9092' },
        'INVALID_OPTION',
        'kafkaBackplane({ brokers }) has "http://127.0.0.1:9092", not host:port',
      ],
      [{ brokers: '' }, 'INVALID_OPTION', 'kafkaBackplane({ brokers }) names no broker'],
      [
        { brokers: kafka.brokers, maxMessageBytes: 0 },
        'INVALID_OPTION',
        'kafkaBackplane({ maxMessageBytes }) must be a positive number',
      ],
      [
        { brokers: kafka.brokers, topicPrefix: 'bad prefix/' },
        'INVALID_OPTION',
        'makes an invalid Kafka topic name',
      ],
      [
        { brokers: kafka.brokers, kafka: new Kafka({ brokers: [kafka.brokers] }) },
        'INVALID_OPTION',
        'takes a kafka instance or brokers/clientId/ssl/sasl to make one, not both',
      ],
    ] as const) {
      const failure = await startTestAtmosphere({ providers: [kafkaBackplane(options)] }).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(AtmosphereError.isInstance(failure), reason).toBe(true);
      expect((failure as AtmosphereError).code).toBe(code);
      expect((failure as AtmosphereError).message).toContain(reason);
    }
  });

  test('a consumer group shared with another node fails the second node, saying why', async () => {
    const topicPrefix = uniquePrefix('shared');
    const groupId = `${topicPrefix}same-group`;
    await node({ brokers: kafka.brokers, topicPrefix, partitions: 2, groupId });
    const failure = await startNode({
      brokers: kafka.brokers,
      topicPrefix,
      partitions: 2,
      groupId,
      startTimeoutMs: 30_000,
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).message).toContain(
      `the consumer group ${groupId} is shared with another consumer`,
    );
  }, 40_000);

  test("an application's own Kafka instance is used, and left for the application", async () => {
    const topicPrefix = uniquePrefix('instance');
    const own = new Kafka({ brokers: [kafka.brokers], clientId: 'the-app', logLevel: logLevel.NOTHING });
    const a = await node({ kafka: own, topicPrefix, partitions: 1 });
    const b = await node({ kafka: own, topicPrefix, partitions: 1 });
    const onB = await client(b, 'lobby');
    await a.atmosphere.broadcast('/chat/lobby', 'through the given instance');
    expect(await onB.messages.next(10_000)).toBe('through the given instance');
    expect(a.backplane.location).toBe('the brokers of the given Kafka instance');
    await a.atmosphere.close();
    // The instance still makes working clients after the backplane closed its own.
    const admin = own.admin();
    await admin.connect();
    expect(await admin.listTopics()).toContain(`${topicPrefix}backplane`);
    await admin.disconnect();
  });

  test('close() is idempotent; start() after it fails with CLOSED', async () => {
    const a = await bare({ brokers: kafka.brokers, topicPrefix: uniquePrefix('close') });
    await Promise.all([a.backplane.close(), a.backplane.close()]);
    await a.backplane.close();
    expect(a.backplane.connected).toBe(false);
    expect(() => a.backplane.publish({ broadcaster: '/b', payload: 'after close' })).not.toThrow();
    await expect(a.backplane.start(() => undefined)).rejects.toMatchObject({ code: 'CLOSED' });
  });
});

describe.skipIf(REAL_BROKERS !== undefined)(
  'faults of the broker itself: lost mid-stream, a lower size limit (test broker only: a shared real cluster is not ours to stop or reconfigure)',
  () => {
    test("a broadcast over the brokers' own limit is refused by Kafka, reported, and the next ones still go through", async () => {
      const strictBroker = await startKafkaDouble({ maxMessageBytes: 2_000 });
      try {
        const topicPrefix = uniquePrefix('broker-limit');
        const a = await node({ brokers: strictBroker.brokers, topicPrefix, partitions: 1 });
        const b = await node({ brokers: strictBroker.brokers, topicPrefix, partitions: 1 });
        const onA = await client(a, 'lobby');
        const onB = await client(b, 'lobby');
        await a.atmosphere.broadcast('/chat/lobby', 'y'.repeat(5_000));
        expect((await onA.messages.next(10_000)).length).toBe(5_000);
        await eventually(
          () => a.backplane.stats().notRelayed.failed === 1,
          'the refused send to be reported',
          20_000,
        );
        expect(a.lines('warn', '1 broadcast(s) (the first on /chat/lobby) were not relayed')).toHaveLength(1);
        await a.atmosphere.broadcast('/chat/lobby', 'small again');
        expect(await onB.messages.next(10_000)).toBe('small again');
        expect(onB.messages.items).toEqual(['small again']);
      } finally {
        await strictBroker.stop();
      }
    }, 30_000);

    test('broadcasts while Kafka is gone are reported and reach local clients; on its return nothing sent after is missed', async () => {
      const own = await startKafkaDouble();
      try {
        const topicPrefix = uniquePrefix('outage');
        const a = await node({ brokers: own.brokers, topicPrefix, partitions: 2 });
        const b = await node({ brokers: own.brokers, topicPrefix, partitions: 2 });
        const failures: RelayFailure[] = [];
        a.atmosphere.onRelayFailure((failure) => failures.push(failure));
        const onA = await client(a, 'lobby', 'sse');
        const onB = await client(b, 'lobby');
        await a.atmosphere.broadcast('/chat/lobby', 'before');
        expect(await onB.messages.next(10_000)).toBe('before');
        expect(await onA.messages.next(10_000)).toBe('before');

        await own.stop();
        for (let i = 1; i <= 20; i++) await a.atmosphere.broadcast('/chat/lobby', `during-${i}`);
        expect(await onA.messages.take(20, 10_000)).toEqual(
          Array.from({ length: 20 }, (_, i) => `during-${i + 1}`),
        );
        await eventually(
          () => a.backplane.stats().notRelayed.failed === 20,
          'the 20 broadcasts to be reported as not relayed',
          20_000,
        );
        expect(a.backplane.connected).toBe(false);
        expect(a.lines('warn', 'were not relayed')).not.toHaveLength(0);
        // Reported to the application too: every one of them, as failed, on its broadcaster.
        expect(failures.reduce((sum, failure) => sum + failure.count, 0)).toBe(20);
        expect(failures.every((f) => f.reason === 'failed' && f.backplane === 'kafka')).toBe(true);
        expect(failures[0]!.broadcaster).toBe('/chat/lobby');
        expect(a.atmosphere.relayFailures).toBe(20);
        await eventually(
          () => b.lines('warn', "lost the consumer's connection").length === 1,
          'b to report the lost consumer',
          20_000,
        );

        // Kafka is back, but b's consumer cannot rejoin its group yet: what a sends now waits in the topic.
        own.holdJoins = true;
        await own.start();
        await a.atmosphere.broadcast('/chat/lobby', 'after');
        await eventually(
          () => a.backplane.stats().published === 2,
          "Kafka to acknowledge a's broadcast",
          20_000,
        );
        expect(b.lines('info', 'consuming')).toEqual([]);
        // Once b is back in its group it reads on from the record after its last one: 'after' is not skipped.
        own.holdJoins = false;
        expect(await onB.messages.next(20_000)).toBe('after');
        expect(b.lines('info', 'consuming')).toHaveLength(1);
        await eventually(() => a.backplane.connected, 'a to relay again', 10_000);
        expect(a.lines('info', 'relaying through')).toHaveLength(1);
        expect(a.lines('info', '20 broadcast(s) of this node were not relayed meanwhile')).toHaveLength(1);
        await b.atmosphere.broadcast('/chat/lobby', 'after from b');
        expect(await onA.messages.waitFor((m) => m === 'after from b', 20_000)).toBe('after from b');
        expect(onB.messages.items).toEqual(['before', 'after', 'after from b']);
      } finally {
        await own.stop();
      }
    }, 60_000);
  },
);
