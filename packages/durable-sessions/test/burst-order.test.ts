import { once } from 'node:events';
import { createConnection, createServer, type Socket } from 'node:net';
import { AtmosphereError, type Atmosphere } from '@atmosphere/runtime';
import {
  connectTestClient,
  startTestAtmosphere,
  startTestRedis,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { closeRedis, connectRedis, durable, loadIoredis, SqliteStreamLog } from '../src/index.ts';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { newFile, tempFolder } from './helpers.ts';

const folder = tempFolder('burst');
let atmosphere: Atmosphere | undefined;
let redis: TestRedis | undefined;
let prefixes = 0;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

function start(store: 'sqlite' | 'redis', label: string, file = newFile(folder, label)): Promise<Atmosphere> {
  return startTestAtmosphere({
    env: { ATMOSPHERE_DURABLE_SQLITE: 'off' },
    providers:
      store === 'sqlite'
        ? durable({ sqlite: file, kinds: ['stream-log'] })
        : durable({ redis: redis!.url, prefix: `burst${++prefixes}:`, kinds: ['stream-log'] }),
    rateLimit: false,
  });
}

test.each([
  ['sqlite', 'websocket'],
  ['sqlite', 'sse'],
  ['redis', 'websocket'],
  ['redis', 'sse'],
] as const)(
  'a burst on the %s log, to all and to one client mixed, arrives over %s in broadcast order, each once, as the log holds it',
  async (store, transport) => {
    atmosphere = await start(store, transport);
    atmosphere.managed('/burst', {}, { codec: 'text' });
    const client = await connectTestClient(atmosphere.url('/burst'), transport);
    const resource = atmosphere.resource(client.trackingId)!;
    const broadcaster = atmosphere.broadcasters.get('/burst');
    const expected: string[] = [];
    const log = atmosphere.log;
    expect(log.name).toBe(store);
    expect(log.batchAppends).toBe(true);
    const batchesBefore = log instanceof SqliteStreamLog ? log.batches : 0;
    // Counts the calls the broadcaster makes to the real store.
    let appends = 0;
    const append = log.append.bind(log);
    log.append = (stream, entries) => {
      appends++;
      return append(stream, entries);
    };
    const sent: Promise<void>[] = [];
    // One turn of the event loop: the broadcaster hands the store the whole burst in one append (one
    // transaction), and the deliveries follow in order — addressed messages (the fast path of an AI token) and
    // messages to all interleaved.
    for (let i = 0; i < 600; i++) {
      const text = `m${i}`;
      expected.push(text);
      sent.push(i % 3 === 0 ? broadcaster.broadcast(text) : broadcaster.broadcast(text, { to: resource }));
    }
    await Promise.all(sent);
    // One append call (one promise) for the whole turn, and one transaction.
    expect(appends).toBe(1);
    if (log instanceof SqliteStreamLog) expect(log.batches - batchesBefore).toBe(1);
    for (const text of expected) expect(await client.messages.next(5_000)).toBe(text);
    const read = await atmosphere.log.read('/burst', 0, { limit: 1_000 });
    expect(read?.records.map((r) => r.payload)).toEqual(expected);
    expect(read?.records.map((r) => r.seq)).toEqual(expected.map((_, i) => i + 1));
    expect(read?.records.map((r) => r.targets)).toEqual(
      expected.map((_, i) => (i % 3 === 0 ? undefined : [client.trackingId])),
    );
    await client.close();
  },
);

test('a burst longer than one append goes out in several, in order, with contiguous positions', async () => {
  atmosphere = await start('sqlite', 'long');
  atmosphere.managed('/long', {}, { codec: 'text' });
  const client = await connectTestClient(atmosphere.url('/long'), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  const broadcaster = atmosphere.broadcasters.get('/long');
  const sent: Promise<void>[] = [];
  for (let i = 0; i < 2_500; i++) sent.push(broadcaster.broadcast(`m${i}`, { to: resource }));
  await Promise.all(sent);
  for (let i = 0; i < 2_500; i++) expect(await client.messages.next(5_000)).toBe(`m${i}`);
  const log = atmosphere.log;
  let after = 0;
  const seqs: number[] = [];
  for (;;) {
    const read = await log.read('/long', after, { limit: 1_000 });
    if (read === undefined || read.records.length === 0) break;
    for (const record of read.records) seqs.push(record.seq);
    after = read.records.at(-1)!.seq;
  }
  expect(seqs).toEqual(Array.from({ length: 2_500 }, (_, i) => i + 1));
  await client.close();
});

test('a burst the SQLite log refuses: every broadcast rejects with LOG_FAILED, none is delivered, and the next ones follow without a hole', async () => {
  const file = newFile(folder, 'refused');
  atmosphere = await start('sqlite', 'refused', file);
  atmosphere.managed('/refused', {}, { codec: 'text' });
  const client = await connectTestClient(atmosphere.url('/refused'), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  const broadcaster = atmosphere.broadcasters.get('/refused');
  await broadcaster.broadcast('before');
  expect(await client.messages.next(5_000)).toBe('before');
  // Another connection makes every record insert fail inside the log's transaction, as a disk error would.
  const other = openSqliteFile(await loadBetterSqlite3(), file, 'test', 'the test');
  other.exec(
    "CREATE TRIGGER refuse_writes BEFORE INSERT ON atmosphere_records BEGIN SELECT RAISE(ABORT, 'disk I/O refused by the test'); END",
  );
  const refused: Promise<void>[] = [];
  for (let i = 0; i < 300; i++)
    refused.push(
      i % 2 === 0 ? broadcaster.broadcast(`lost${i}`) : broadcaster.broadcast(`lost${i}`, { to: resource }),
    );
  const outcomes = await Promise.allSettled(refused);
  other.exec('DROP TRIGGER refuse_writes');
  other.close();
  expect(outcomes.filter((outcome) => outcome.status === 'rejected')).toHaveLength(300);
  for (const outcome of outcomes) {
    const reason = (outcome as PromiseRejectedResult).reason as unknown;
    expect(AtmosphereError.isInstance(reason) && reason.code).toBe('LOG_FAILED');
  }
  const after: Promise<void>[] = [];
  for (let i = 0; i < 100; i++) after.push(broadcaster.broadcast(`after${i}`, { to: resource }));
  await Promise.all(after);
  // Nothing of the refused burst reached the client: the next message it gets is the first one after it.
  for (let i = 0; i < 100; i++) expect(await client.messages.next(5_000)).toBe(`after${i}`);
  const read = await atmosphere.log.read('/refused', 0, { limit: 1_000 });
  expect(read?.records.map((r) => r.payload)).toEqual([
    'before',
    ...Array.from({ length: 100 }, (_, i) => `after${i}`),
  ]);
  expect(read?.records.map((r) => r.seq)).toEqual(Array.from({ length: 101 }, (_, i) => i + 1));
  await client.close();
});

/**
 * A TCP proxy in front of the test's Redis that can hold Redis's answers back while the commands still go
 * through, and says when a text has gone through to Redis or come back from it.
 */
interface AnswerHoldingProxy {
  readonly url: string;
  hold(): void;
  /** Forwards what was held, in order, and stops holding. */
  release(): void;
  /** Resolves once `text` has gone through to Redis. */
  sent(text: string): Promise<void>;
  /** Resolves once `text` has come back from Redis (held or not). */
  answered(text: string): Promise<void>;
  close(): Promise<void>;
}

async function startAnswerHoldingProxy(port: number): Promise<AnswerHoldingProxy> {
  let holding = false;
  const held: { readonly socket: Socket; readonly chunk: Buffer }[] = [];
  const sockets = new Set<Socket>();
  const seen = { sent: '', answered: '' };
  const waiters = new Set<{ way: keyof typeof seen; text: string; resolve: () => void }>();
  const saw = (way: keyof typeof seen, chunk: Buffer): void => {
    seen[way] += chunk.toString('latin1');
    for (const waiter of [...waiters])
      if (waiter.way === way && seen[way].includes(waiter.text)) {
        waiters.delete(waiter);
        waiter.resolve();
      }
  };
  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port });
    sockets.add(client).add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk: Buffer) => {
      upstream.write(chunk);
      saw('sent', chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      saw('answered', chunk);
      if (holding) held.push({ socket: client, chunk });
      else client.write(chunk);
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const wait = (way: keyof typeof seen, text: string): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      if (seen[way].includes(text)) return resolve();
      const timer = setTimeout(() => {
        waiters.delete(waiter);
        reject(new Error(`'${text}' was not ${way} within 5 s`));
      }, 5_000);
      const waiter = {
        way,
        text,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      waiters.add(waiter);
    });
  return {
    url: `redis://127.0.0.1:${(server.address() as { port: number }).port}`,
    hold: () => {
      holding = true;
    },
    release: () => {
      holding = false;
      for (const { socket, chunk } of held.splice(0)) socket.write(chunk);
    },
    sent: (text) => wait('sent', text),
    answered: (text) => wait('answered', text),
    async close() {
      for (const socket of sockets) socket.destroy();
      server.close();
      await once(server, 'close');
    },
  };
}

/** An Atmosphere whose Redis log connects through `proxy`, a managed path and one WebSocket client on it. */
async function throughProxy(proxy: AnswerHoldingProxy, path: string) {
  atmosphere = await startTestAtmosphere({
    env: { ATMOSPHERE_DURABLE_SQLITE: 'off' },
    providers: durable({ redis: proxy.url, prefix: `burst${++prefixes}:`, kinds: ['stream-log'] }),
    rateLimit: false,
  });
  atmosphere.managed(path, {}, { codec: 'text' });
  const client = await connectTestClient(atmosphere.url(path), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  const broadcaster = atmosphere.broadcasters.get(path);
  // The first append loads the script; the ones measured below run it by its digest.
  await broadcaster.broadcast('warm-up', { to: resource });
  expect(await client.messages.next(5_000)).toBe('warm-up');
  return { client, resource, broadcaster };
}

test("the Redis log sends a turn's append while the one before still waits for its answer; each delivery waits for its own, in order", async () => {
  const proxy = await startAnswerHoldingProxy(redis!.port);
  try {
    const { client, resource, broadcaster } = await throughProxy(proxy, '/pipelined');
    const received = client.messages.items.length;
    proxy.hold();
    const done: string[] = [];
    const first = broadcaster.broadcast('first-of-two', { to: resource }).then(() => done.push('first'));
    await proxy.sent('first-of-two');
    const second = broadcaster.broadcast('second-of-two', { to: resource }).then(() => done.push('second'));
    // Sent to Redis with the first append's answer still held back: not queued behind it.
    await proxy.sent('second-of-two');
    // Neither is delivered before its append has its answer.
    expect(done).toEqual([]);
    expect(client.messages.items.length).toBe(received);
    proxy.release();
    await Promise.all([first, second]);
    expect(done).toEqual(['first', 'second']);
    expect(await client.messages.next(5_000)).toBe('first-of-two');
    expect(await client.messages.next(5_000)).toBe('second-of-two');
    const read = await atmosphere!.log.read('/pipelined', 0);
    expect(read?.records.map((r) => [r.seq, r.payload])).toEqual([
      [1, 'warm-up'],
      [2, 'first-of-two'],
      [3, 'second-of-two'],
    ]);
    await client.close();
  } finally {
    await atmosphere?.close();
    atmosphere = undefined;
    await proxy.close();
  }
});

test('appends in flight together: the one Redis refuses rejects its broadcast with LOG_FAILED and is not delivered; the next is, without a hole', async () => {
  const proxy = await startAnswerHoldingProxy(redis!.port);
  const admin = await connectRedis(await loadIoredis(), redis!.url, {
    source: 't',
    purpose: 'test admin',
    timeoutMs: 5_000,
  });
  const config = (value: string): Promise<unknown> =>
    (admin as unknown as { call(...args: string[]): Promise<unknown> }).call(
      'CONFIG',
      'SET',
      'min-replicas-to-write',
      value,
    );
  try {
    const { client, resource, broadcaster } = await throughProxy(proxy, '/refused-one');
    proxy.hold();
    // A Redis that refuses writes (as without enough replicas) for the first append only.
    await config('1');
    const refused = broadcaster.broadcast('refused-one', { to: resource });
    const outcome = refused.then(
      () => 'delivered',
      (error: unknown) => (AtmosphereError.isInstance(error) ? error.code : String(error)),
    );
    await proxy.answered('NOREPLICAS');
    await config('0');
    const accepted = broadcaster.broadcast('accepted-after', { to: resource });
    // Sent while the refusal of the one before is still held back.
    await proxy.sent('accepted-after');
    proxy.release();
    expect(await outcome).toBe('LOG_FAILED');
    await accepted;
    expect(await client.messages.next(5_000)).toBe('accepted-after');
    const read = await atmosphere!.log.read('/refused-one', 0);
    expect(read?.records.map((r) => [r.seq, r.payload])).toEqual([
      [1, 'warm-up'],
      [2, 'accepted-after'],
    ]);
    await client.close();
  } finally {
    await config('0');
    await closeRedis(admin);
    await atmosphere?.close();
    atmosphere = undefined;
    await proxy.close();
  }
});
