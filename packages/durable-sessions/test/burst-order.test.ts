import { AtmosphereError, type Atmosphere } from '@atmosphere/runtime';
import {
  connectTestClient,
  startTestAtmosphere,
  startTestRedis,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, expect, test } from 'vitest';
import { durable, SqliteStreamLog } from '../src/index.ts';
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
