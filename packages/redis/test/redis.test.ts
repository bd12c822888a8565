import { AtmosphereError } from '@atmosphere/runtime';
import type { RelayFailure } from '@atmosphere/runtime/spi';
import {
  type AttemptCounter,
  connectTestClient,
  countConnectionAttempts,
  eventually,
  startTestAtmosphere,
  type TestClient,
} from '@atmosphere/runtime/testing';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { decodeRelayMessage, encodeRelayMessage, WIRE_MAGIC, WIRE_VERSION } from '../src/wire-format.ts';
import { redisBackplane } from '../src/index.ts';
import { startNode, type TestNode } from './helpers.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

let redis: TestRedis;
let raw: Redis[] = [];
let nodes: TestNode[] = [];
let clients: TestClient[] = [];

beforeAll(async () => {
  redis = await startTestRedis();
});

afterEach(async () => {
  await Promise.all(clients.map((client) => client.close().catch(() => undefined)));
  await Promise.all(nodes.map((node) => node.atmosphere.close()));
  for (const client of raw) client.disconnect();
  clients = [];
  nodes = [];
  raw = [];
  inspector = undefined;
});

afterAll(async () => {
  await redis.stop();
});

async function node(...args: Parameters<typeof startNode>): Promise<TestNode> {
  const started = await startNode(...args);
  nodes.push(started);
  return started;
}

async function client(at: TestNode, room: string, transport: 'websocket' | 'sse' = 'websocket') {
  const connected = await connectTestClient(at.atmosphere.url(`/chat/${room}`), transport);
  clients.push(connected);
  return connected;
}

/** A raw ioredis connection of the test's own (to publish garbage, read the channel, inspect the server). */
async function rawRedis(url = redis.url): Promise<Redis> {
  const connection = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  raw.push(connection);
  await connection.connect();
  return connection;
}

/** Names of the connections Redis has, from CLIENT LIST. */
let inspector: Redis | undefined;
async function connectionNames(): Promise<string[]> {
  inspector ??= await rawRedis();
  const list = (await inspector.client('LIST')) as string;
  return [...list.matchAll(/ name=(\S*)/g)].map((match) => match[1]!).filter((name) => name !== '');
}

describe('the channel', () => {
  test('a broadcaster travels on <prefix><id> in the documented wire format; every node subscribes to <prefix>*', async () => {
    const a = await node({ url: redis.url, channelPrefix: 'wire:' });
    expect(a.backplane.pattern).toBe('wire:*');
    const reader = await rawRedis();
    const seen: { channel: string; message: Buffer }[] = [];
    reader.on('pmessageBuffer', (_pattern: string, channel: Buffer, message: Buffer) =>
      seen.push({ channel: channel.toString(), message }),
    );
    await reader.psubscribe('wire:*');
    await a.atmosphere.broadcast('/chat/lobby', 'héllo', { to: ['t1', 't2'], exclude: 'me' });
    await eventually(() => seen.length === 1, 'the relay message on the raw subscriber');
    const [{ channel, message }] = seen as [{ channel: string; message: Buffer }];
    expect(channel).toBe('wire:/chat/lobby');
    expect(message[0]).toBe(WIRE_MAGIC);
    expect(message[1]).toBe(WIRE_VERSION);
    expect(message.subarray(3, 19).toString('hex')).toBe(a.backplane.nodeId);
    expect(decodeRelayMessage('/chat/lobby', message)).toEqual({
      broadcaster: '/chat/lobby',
      payload: 'héllo',
      targets: ['t1', 't2'],
      exclude: 'me',
    });
  });

  test('a relay message from another process in the wire format is delivered; other prefixes are not heard', async () => {
    const b = await node({ url: redis.url, channelPrefix: 'app-one:' });
    const other = await node({ url: redis.url, channelPrefix: 'app-two:' });
    const onB = await client(b, 'lobby');
    const onOther = await client(other, 'lobby');
    const publisher = await rawRedis();
    const foreign = encodeRelayMessage(new Uint8Array(16).fill(7), {
      broadcaster: '/chat/lobby',
      payload: 'from another process',
    });
    await publisher.publish('app-one:/chat/lobby', foreign);
    expect(await onB.messages.next()).toBe('from another process');
    await other.atmosphere.broadcast('/chat/lobby', 'app-two only');
    expect(await onOther.messages.next()).toBe('app-two only');
    expect(onB.messages.items).toEqual(['from another process']);
    // A fence on app-one's channel: had app-two's message leaked to b, it would have come first.
    await publisher.publish(
      'app-one:/chat/lobby',
      encodeRelayMessage(new Uint8Array(16).fill(7), { broadcaster: '/chat/lobby', payload: 'fence' }),
    );
    expect(await onB.messages.next()).toBe('fence');
  });
});

describe('targeted messages across nodes', () => {
  test('a message to one client (by tracking id) from another node reaches it, and only it; exclude spares one', async () => {
    const a = await node({ url: redis.url, channelPrefix: 'to:' });
    const b = await node({ url: redis.url, channelPrefix: 'to:' });
    const target = await client(b, 'lobby');
    const bystander = await client(b, 'lobby');
    const local = await client(a, 'lobby', 'sse');
    await a.atmosphere.broadcast('/chat/lobby', 'for you', { to: target.trackingId });
    expect(await target.messages.next()).toBe('for you');
    await a.atmosphere.broadcast('/chat/lobby', 'not for you', { exclude: target.trackingId });
    await a.atmosphere.broadcast('/chat/lobby', 'everyone');
    // The fence: had the targeted message reached the others, it would have come first.
    expect(await bystander.messages.take(2)).toEqual(['not for you', 'everyone']);
    expect(await local.messages.take(2)).toEqual(['not for you', 'everyone']);
    expect(await target.messages.next()).toBe('everyone');
  });
});

describe('malformed and oversized messages', () => {
  test('garbage on the channel is dropped with a warning; the nodes keep relaying, their clients are unaffected', async () => {
    const a = await node({ url: redis.url, channelPrefix: 'garbage:' });
    const b = await node({ url: redis.url, channelPrefix: 'garbage:' });
    const onA = await client(a, 'lobby', 'sse');
    const onB = await client(b, 'lobby');
    const publisher = await rawRedis();
    const valid = encodeRelayMessage(new Uint8Array(16).fill(1), { broadcaster: 'x', payload: 'ok' });
    const badVersion = Buffer.from(valid);
    badVersion[1] = 99;
    const unknownFlags = Buffer.from(valid);
    unknownFlags[2] = 0x80;
    const lyingCount = Buffer.concat([
      Buffer.from([WIRE_MAGIC, WIRE_VERSION, 0x02]),
      Buffer.alloc(16, 2),
      Buffer.from([0xff, 0xff, 0xff, 0xff]),
    ]);
    const overrun = Buffer.concat([
      Buffer.from([WIRE_MAGIC, WIRE_VERSION, 0x04]),
      Buffer.alloc(16, 3),
      Buffer.from([0, 0, 0, 200]),
      Buffer.from('short'),
    ]);
    const garbage: (string | Buffer)[] = [
      'hello',
      '{"broadcaster":"/chat/lobby","payload":"json"}',
      Buffer.from([WIRE_MAGIC]),
      badVersion,
      unknownFlags,
      lyingCount,
      overrun,
    ];
    for (const message of garbage) await publisher.publish('garbage:/chat/lobby', message);
    // An empty message is a node's probe after an outage (it counts subscribers): ignored, not refused.
    await publisher.publish('garbage:', '');
    await a.atmosphere.broadcast('/chat/lobby', 'after the garbage');
    expect(await onB.messages.next()).toBe('after the garbage');
    expect(await onA.messages.next()).toBe('after the garbage');
    await b.atmosphere.broadcast('/chat/lobby', 'from b');
    expect(await onA.messages.next()).toBe('from b');
    expect(onB.messages.items).toEqual(['after the garbage', 'from b']);
    for (const n of [a, b]) {
      expect(n.backplane.stats().refused.malformed).toBe(garbage.length);
      expect(n.lines('warn', 'dropped a malformed message on garbage:/chat/lobby')).not.toHaveLength(0);
    }
    // The first is a warning; the same kind again within 10 s goes to debug, each with its reason.
    expect(b.lines('warn', 'malformed')).toHaveLength(1);
    const reasons = b.logger.lines.filter((l) => l.message.includes('malformed')).map((l) => l.message);
    for (const reason of [
      '5 bytes, shorter than the 19-byte header',
      'bad magic byte',
      'format version 99 is not supported',
      'unknown flags 0x80',
      'the target count (4294967295) exceeds what the message can hold',
      'the exclude length (200) runs past the end of the message',
    ])
      expect(reasons.some((line) => line.includes(reason))).toBe(true);
    expect(b.backplane.connected).toBe(true);
  });

  test('an oversized message is dropped by the receiving node, and never published by a node that knows the limit', async () => {
    const generous = await node({ url: redis.url, channelPrefix: 'size:' });
    const strict = await node({ url: redis.url, channelPrefix: 'size:', maxMessageBytes: 1024 });
    const onGenerous = await client(generous, 'lobby');
    const onStrict = await client(strict, 'lobby');
    const big = 'x'.repeat(2000);
    await generous.atmosphere.broadcast('/chat/lobby', big);
    await generous.atmosphere.broadcast('/chat/lobby', 'small');
    expect(await onStrict.messages.next()).toBe('small');
    expect(strict.backplane.stats().refused.tooLarge).toBe(1);
    expect(strict.lines('warn', 'larger than maxMessageBytes (1024)')).toHaveLength(1);
    // The strict node does not publish what it would refuse; its own clients still get it.
    await strict.atmosphere.broadcast('/chat/lobby', big);
    expect(await onStrict.messages.next()).toBe(big);
    await strict.atmosphere.broadcast('/chat/lobby', 'fence');
    expect((await onGenerous.messages.take(3)).map((m) => m.slice(0, 10))).toEqual([
      big.slice(0, 10),
      'small',
      'fence',
    ]);
    expect(strict.backplane.stats().notRelayed.tooLarge).toBe(1);
    expect(strict.lines('warn', 'delivered on this node only')).toHaveLength(1);
  });
});

describe('Redis going away', () => {
  test('Redis killed (SIGKILL) and restarted: broadcasts made meanwhile reach local clients at once and the other node, in order, when it returns', async () => {
    const own = await startTestRedis();
    try {
      const a = await node({ url: own.url });
      const b = await node({ url: own.url });
      const failures: RelayFailure[] = [];
      a.atmosphere.onRelayFailure((failure) => failures.push(failure));
      const onA = await client(a, 'lobby', 'sse');
      const onB = await client(b, 'lobby');
      await a.atmosphere.broadcast('/chat/lobby', 'before');
      expect(await onB.messages.next()).toBe('before');
      expect(await onA.messages.next()).toBe('before');

      await own.kill();
      // Gone for a's publishing connection too (a node is not `connected` as soon as either of its two
      // connections is lost): what a broadcasts now is kept, not written into a socket Redis no longer reads.
      await eventually(
        () =>
          !a.backplane.connected &&
          !b.backplane.connected &&
          a.lines('warn', 'lost the publishing connection').length > 0 &&
          b.lines('warn', 'lost the subscribing connection').length > 0,
        'both nodes to see Redis gone',
      );
      for (let i = 1; i <= 50; i++) await a.atmosphere.broadcast('/chat/lobby', `during-${i}`);
      const during = Array.from({ length: 50 }, (_, i) => `during-${i + 1}`);
      expect(await onA.messages.take(50)).toEqual(during);
      expect(a.backplane.stats().buffered).toBe(50);
      expect(a.lines('warn', 'is unreachable; broadcasts (the first on /chat/lobby) are kept')).toHaveLength(
        1,
      );
      expect(a.lines('warn', 'lost the publishing connection')).toHaveLength(1);
      expect(b.lines('warn', 'lost the subscribing connection')).toHaveLength(1);

      await own.start();
      // The kept broadcasts wait for b's subscription, then arrive in order, before anything newer.
      expect(await onB.messages.take(50)).toEqual(during);
      await a.atmosphere.broadcast('/chat/lobby', 'after');
      expect(await onB.messages.next()).toBe('after');
      await eventually(() => b.backplane.connected, 'b to subscribe again');
      await b.atmosphere.broadcast('/chat/lobby', 'after from b');
      expect(await onA.messages.waitFor((m) => m !== 'after')).toBe('after from b');
      expect(onB.messages.items).toEqual(['before', ...during, 'after', 'after from b']);
      expect(a.backplane.stats()).toMatchObject({ buffered: 0, notRelayed: { offline: 0, failed: 0 } });
      expect(failures).toEqual([]);
      expect(a.lines('info', 'relayed 50 broadcast(s) kept while Redis was unreachable')).toHaveLength(1);
      expect(b.lines('info', 'subscribed to atmosphere:* again; relaying resumed')).toHaveLength(1);
    } finally {
      await own.stop();
    }
  });

  test('beyond maxBufferedBytes a broadcast made while Redis is down is reported to onRelayFailure and counted, never dropped silently', async () => {
    const own = await startTestRedis();
    try {
      // Each relay message is 19 header bytes + 100: five fit in 600 bytes, the other five do not.
      const a = await node({ url: own.url, maxBufferedBytes: 600 });
      const b = await node({ url: own.url });
      const failures: RelayFailure[] = [];
      a.atmosphere.onRelayFailure((failure) => failures.push(failure));
      const onB = await client(b, 'lobby');
      await own.kill();
      // Its publishing connection too, not only either of its two connections (see the test above).
      await eventually(
        () => !a.backplane.connected && a.lines('warn', 'lost the publishing connection').length > 0,
        'a to see Redis gone',
      );
      for (let i = 1; i <= 10; i++) await a.atmosphere.broadcast('/chat/lobby', `${i}`.padEnd(100, '.'));
      expect(failures).toHaveLength(5);
      expect(failures[0]).toMatchObject({
        backplane: 'redis',
        broadcaster: '/chat/lobby',
        reason: 'offline',
        count: 1,
      });
      expect(failures[0]!.detail).toContain('maxBufferedBytes 600');
      expect(a.atmosphere.relayFailures).toBe(5);
      expect(a.backplane.stats()).toMatchObject({ buffered: 5, notRelayed: { offline: 5 } });
      await own.start();
      // Both nodes reconnect (with ioredis's backoff), then a relays what it kept: allow for a loaded machine.
      const received = await onB.messages.take(5, 20_000);
      expect(received.map((m) => m.replace(/\.+$/, ''))).toEqual(['1', '2', '3', '4', '5']);
      await eventually(
        () =>
          a.lines('warn', '5 broadcast(s) of this node were not relayed while it was unreachable').length ===
          1,
        'the count logged on return',
      );
    } finally {
      await own.stop();
    }
  }, 60_000); // Redis killed and restarted, both nodes reconnecting with backoff: slow on a loaded machine.

  test('a broadcast made as the publishing connection breaks, before its close is reported, is kept and relayed, not failed', async () => {
    // The node's connections are duplicates of this client: keep them to break the publisher's socket.
    const base = await rawRedis();
    const made: Redis[] = [];
    const duplicate = base.duplicate.bind(base);
    base.duplicate = (...args: Parameters<Redis['duplicate']>) => {
      const connection = duplicate(...args);
      made.push(connection);
      return connection;
    };
    const a = await node({ client: base, channelPrefix: 'break:' });
    const b = await node({ url: redis.url, channelPrefix: 'break:' });
    const failures: RelayFailure[] = [];
    a.atmosphere.onRelayFailure((failure) => failures.push(failure));
    const onB = await client(b, 'lobby');
    const publisher = made.find((connection) => connection.options.connectionName?.endsWith('-publisher'));
    expect(publisher).toBeDefined();
    // The socket is gone at once; ioredis reports the close on a later turn and refuses writes meanwhile.
    publisher!.stream.destroy();
    await Promise.all([1, 2, 3].map((i) => a.atmosphere.broadcast('/chat/lobby', `m${i}`)));
    expect(await onB.messages.take(3, 20_000)).toEqual(['m1', 'm2', 'm3']);
    expect(failures).toEqual([]);
    expect(a.backplane.stats().notRelayed).toMatchObject({ failed: 0, offline: 0 });
  }, 30_000); // the publisher reconnects with ioredis's backoff

  test('a Redis that stops answering holds at most maxPendingBytes; the rest is not relayed, with a warning', async () => {
    const a = await node({ url: redis.url, channelPrefix: 'paused:', maxPendingBytes: 1000 });
    const b = await node({ url: redis.url, channelPrefix: 'paused:' });
    const onB = await client(b, 'lobby');
    const admin = await rawRedis();
    // PUBLISH counts as a write: the publisher's commands wait unanswered while its connection stays up.
    await admin.call('CLIENT', 'PAUSE', '10000', 'WRITE');
    try {
      // Each relay message is 19 header bytes + 300: three fit in 1000 bytes, the other seven do not.
      for (let i = 1; i <= 10; i++) await a.atmosphere.broadcast('/chat/lobby', `${i}`.padEnd(300, '.'));
      expect(a.backplane.stats().notRelayed.backlog).toBe(7);
      expect(a.lines('warn', 'Redis has not acknowledged 957 bytes (maxPendingBytes 1000)')).toHaveLength(1);
    } finally {
      await admin.call('CLIENT', 'UNPAUSE');
    }
    await a.atmosphere.broadcast('/chat/lobby', 'after the pause');
    const received = await onB.messages.take(4);
    expect(received.map((m) => m.replace(/\.+$/, ''))).toEqual(['1', '2', '3', 'after the pause']);
    expect(a.backplane.stats().published).toBe(4);
  });

  test('start() fails after startTimeoutMs when Redis cannot be reached, naming the URL and the variable', async () => {
    const gone = await startTestRedis();
    await gone.stop();
    const failure = await startTestAtmosphere({
      providers: [redisBackplane({ url: `redis://user:secret@127.0.0.1:${gone.port}`, startTimeoutMs: 500 })],
    }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    const error = failure as AtmosphereError;
    expect(error.code).toBe('PROVIDER_FAILED');
    expect(error.message).toContain(`redis://user:***@127.0.0.1:${gone.port}`);
    expect(error.message).toContain('within 500 ms');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain('ATMOSPHERE_REDIS_URL');
    expect(error.message).not.toContain('secret');
  });
});

describe('connections', () => {
  test('connections made from a URL try again at least every 500 ms however long Redis is away (ioredis alone backs off to 2 s)', async () => {
    const own = await startTestRedis();
    let counter: AttemptCounter | undefined;
    try {
      await node({ url: own.url });
      await own.kill();
      counter = await countConnectionAttempts(own.port);
      const { attempts } = counter;
      // 14 attempts of each of the two connections: about 4.8 s at 50, 100, ... 500, 500 ms apart; about
      // 20 s with ioredis's own backoff (its delays double up to 2 s).
      await eventually(
        () => attempts.length >= 28,
        'fourteen reconnection attempts of each connection',
        10_000,
      );
      const gaps = attempts.slice(-10).map((at, i, last) => (i === 0 ? 0 : at - last[i - 1]!));
      expect(Math.max(...gaps)).toBeLessThan(1_000);
    } finally {
      await counter?.close();
      await own.stop();
    }
  });

  test('close() quits both connections and is idempotent', async () => {
    const a = await node({ url: redis.url });
    const prefix = `atmosphere-${a.backplane.nodeId.slice(0, 8)}`;
    expect((await connectionNames()).filter((name) => name.startsWith(prefix)).sort()).toEqual([
      `${prefix}-publisher`,
      `${prefix}-subscriber`,
    ]);
    await Promise.all([a.backplane.close(), a.backplane.close()]);
    await a.backplane.close();
    expect(a.backplane.connected).toBe(false);
    // Redis notices a QUIT a moment after it answers it: ask until the names are gone (bounded).
    const deadline = Date.now() + 5_000;
    let ours = (await connectionNames()).filter((name) => name.startsWith(prefix));
    while (ours.length > 0 && Date.now() < deadline)
      ours = (await connectionNames()).filter((name) => name.startsWith(prefix));
    expect(ours).toEqual([]);
    await expect(a.backplane.start(() => undefined)).rejects.toMatchObject({ code: 'CLOSED' });
  });

  test('an existing ioredis client is duplicated for both connections, never used or closed', async () => {
    const mine = await rawRedis();
    const a = await node({ client: mine, channelPrefix: 'dup:' });
    const b = await node({ client: mine, channelPrefix: 'dup:' });
    const onB = await client(b, 'lobby');
    await a.atmosphere.broadcast('/chat/lobby', 'through duplicates');
    expect(await onB.messages.next()).toBe('through duplicates');
    const names = await connectionNames();
    for (const n of [a, b])
      expect(names).toContain(`atmosphere-${n.backplane.nodeId.slice(0, 8)}-subscriber`);
    await a.atmosphere.close();
    await b.atmosphere.close();
    expect(mine.status).toBe('ready');
    expect(await mine.ping()).toBe('PONG');
  });

  test('a url and a client together, or a URL that is not redis://, fail at startup with the reason', async () => {
    const mine = await rawRedis();
    for (const [options, reason] of [
      [{ url: redis.url, client: mine }, 'takes a url or a client to duplicate, not both'],
      [
        { url: 'http://127.0.0.1:6379' },
        'redisBackplane({ url }) must be a redis:// or rediss:// URL; got http:',
      ],
      [{ url: 'not a url' }, 'redisBackplane({ url }) is not a URL'],
      [
        { url: redis.url, maxMessageBytes: 0 },
        'redisBackplane({ maxMessageBytes }) must be a positive number',
      ],
    ] as const) {
      await expect(startTestAtmosphere({ providers: [redisBackplane(options)] })).rejects.toMatchObject({
        code: 'PROVIDER_FAILED',
        message: expect.stringContaining(reason),
      });
    }
  });
});
