import {
  AtmosphereHeaders,
  formatCursors,
  parsePositionedText,
  type StreamCursor,
  type StreamReset,
} from '@atmosphere/protocol';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere, AtmosphereOptions } from '../src/index.ts';
import { defineProvider, type LogRead, MemoryStreamLog, type StreamLog } from '../src/spi/index.ts';
import {
  connectTestClient,
  eventually,
  type Inbox,
  protocolUrl,
  startTestAtmosphere,
  type TestClient,
  type TestTransport,
  watchedLog,
} from '../src/testing/index.ts';
import { internal } from './internals.ts';
import { stallableClient } from './stallable-client.ts';

/**
 * "No silent gap" (DURABILITY.md §1), attacked the way issue 12 measured it: a client away while 500
 * messages are broadcast, with a missed-message cache of 20 per client. A client that asks for positions
 * gets every one back from the stream log, or — when the log no longer holds them — a reset frame naming
 * where its gap starts, before any newer message. Every transport, real sockets.
 */
const TRANSPORTS: TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];
const MISSED = 500;

interface Read {
  messages: { body: string; cursor: StreamCursor | undefined }[];
  resets: StreamReset[];
  /** Everything in arrival order, resets as `reset:<from seq>`. */
  order: string[];
}

function read(client: TestClient, from = 0): Read {
  const result: Read = { messages: [], resets: [], order: [] };
  for (const raw of client.messages.items.slice(from)) {
    const frame = parsePositionedText(raw);
    if (frame === undefined) throw new Error(`unreadable positioned frame ${JSON.stringify(raw)}`);
    if (frame.kind === 'reset') {
      result.resets.push(frame.reset);
      result.order.push(`reset:${frame.reset.from.seq}`);
    } else {
      result.messages.push({ body: frame.body, cursor: frame.cursor });
      result.order.push(frame.body);
    }
  }
  return result;
}

function positioned(cursors?: readonly StreamCursor[]): Record<string, string> {
  const query: Record<string, string> = { [AtmosphereHeaders.positions]: 'true' };
  if (cursors !== undefined) query[AtmosphereHeaders.cursors] = formatCursors(cursors);
  return query;
}

/** The cursors of what `messages` holds: the last position of each stream (a positioned client's memory). */
function cursorsOf(messages: readonly string[], start: readonly StreamCursor[] = []): StreamCursor[] {
  const cursors = new Map(start.map((cursor) => [cursor.stream, cursor]));
  for (const raw of messages) {
    const frame = parsePositionedText(raw);
    if (frame?.kind === 'message' && frame.cursor !== undefined)
      cursors.set(frame.cursor.stream, frame.cursor);
    if (frame?.kind === 'reset') cursors.delete(frame.reset.stream);
  }
  return [...cursors.values()];
}

/** Connects a positioned client that presents `cursors`, and its up-to-date cursors on every later poll. */
async function reconnect(
  atmosphere: Atmosphere,
  channel: string,
  transport: TestTransport,
  trackingId: string | undefined,
  received: number | undefined,
  cursors: readonly StreamCursor[],
): Promise<TestClient> {
  // Polls after the first may start before connectTestClient returns: they read the client through this.
  const holder: { client?: TestClient } = {};
  const client = await connectTestClient(atmosphere.url(channel), transport, {
    ...(trackingId === undefined ? {} : { trackingId }),
    received,
    query: positioned(cursors),
    pollQuery: () => positioned(cursorsOf(holder.client?.messages.items ?? [], cursors)),
  });
  holder.client = client;
  return client;
}

function range(from: number, to: number): string[] {
  return Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);
}

/** A positioned client of `channel` that got its first message (m1): the client and that message's cursor. */
async function afterFirst(
  atmosphere: Atmosphere,
  channel: string,
  transport: TestTransport,
): Promise<{ first: TestClient; cursor: StreamCursor }> {
  const first = await connectTestClient(atmosphere.url(channel), transport, {
    received: 0,
    query: positioned(),
  });
  await atmosphere.broadcast(channel, 'm1');
  await first.messages.waitForCount(1);
  const cursor = read(first).messages[0]!.cursor!;
  expect(cursor).toMatchObject({ stream: channel, seq: 1 });
  return { first, cursor };
}

async function awayAfterFirst(
  atmosphere: Atmosphere,
  channel: string,
  transport: TestTransport,
): Promise<{ first: TestClient; cursor: StreamCursor }> {
  const { first, cursor } = await afterFirst(atmosphere, channel, transport);
  first.cut();
  await eventually(() => atmosphere.resource(first.trackingId)?.state === 'away', 'the client to be away');
  for (let i = 2; i <= MISSED + 1; i++) await atmosphere.broadcast(channel, `m${i}`);
  return { first, cursor };
}

let run = 0;

describe('every missed message recovered from the log (cache of 20, log of 10 000)', () => {
  let atmosphere: Atmosphere;
  beforeAll(async () => {
    atmosphere = await startTestAtmosphere({ rateLimit: false, cache: { maxPerClient: 20 } });
    atmosphere.managed('/positions/{run}', {});
  });
  afterAll(() => atmosphere.close());

  test.each(TRANSPORTS)('%s: 500 missed, 500 replayed in order, none twice, then live', async (transport) => {
    const channel = `/positions/r${++run}`;
    const { first, cursor } = await awayAfterFirst(atmosphere, channel, transport);
    const second = await reconnect(atmosphere, channel, transport, first.trackingId, first.received, [
      cursor,
    ]);
    await second.messages.waitForCount(MISSED);
    await atmosphere.broadcast(channel, 'live');
    await second.messages.waitForCount(MISSED + 1);
    const got = read(second);
    expect(got.resets).toEqual([]);
    expect(got.order).toEqual([...range(2, MISSED + 1), 'live']);
    expect(got.messages.map((m) => m.cursor!.seq)).toEqual(range(2, MISSED + 2).map((_, i) => i + 2));
    expect(new Set(got.messages.map((m) => m.cursor!.epoch))).toEqual(new Set([cursor.epoch]));
    await second.close();
  });

  test.each(TRANSPORTS)(
    '%s: the resource was forgotten (grace over): a new resource resumes from the cursor',
    async (transport) => {
      const channel = `/positions/r${++run}`;
      const { first, cursor } = await awayAfterFirst(atmosphere, channel, transport);
      await atmosphere.resource(first.trackingId)!.close();
      const second = await reconnect(atmosphere, channel, transport, first.trackingId, 0, [cursor]);
      await second.messages.waitForCount(MISSED);
      await atmosphere.broadcast(channel, 'live');
      await second.messages.waitForCount(MISSED + 1);
      expect(read(second).order).toEqual([...range(2, MISSED + 1), 'live']);
      await second.close();
    },
  );

  test.each(TRANSPORTS)(
    '%s: a cursor of another epoch (a restarted memory store) gets a reset first',
    async (transport) => {
      const channel = `/positions/r${++run}`;
      await atmosphere.broadcast(channel, 'a');
      await atmosphere.broadcast(channel, 'b');
      const client = await reconnect(atmosphere, channel, transport, undefined, 0, [
        { stream: channel, epoch: 'before-the-restart', seq: 41 },
      ]);
      await atmosphere.broadcast(channel, 'c');
      await client.messages.waitForCount(4);
      const got = read(client);
      const epoch = got.messages[0]!.cursor!.epoch;
      expect(got.resets).toEqual([
        { stream: channel, from: { epoch: 'before-the-restart', seq: 42 }, resumeAt: { epoch, seq: 1 } },
      ]);
      expect(got.order).toEqual(['reset:42', 'a', 'b', 'c']);
      await client.close();
    },
  );

  test('websocket, a client that confirms nothing, cut three times with messages written into its dead socket: each time they come back from the log, none twice', async () => {
    const channel = `/positions/r${++run}`;
    const got: string[] = [];
    let client = await connectTestClient(atmosphere.url(channel), 'websocket', { query: positioned() });
    const trackingId = client.trackingId;
    let sent = 0;
    for (let round = 1; round <= 3; round++) {
      // A live message the client reads, then a cut and three more written at once, before the server can
      // know the socket is gone: written, never read.
      await atmosphere.broadcast(channel, `m${++sent}`);
      await client.messages.waitForCount(client.messages.items.length + 1);
      got.push(...client.messages.items);
      client.cut();
      await Promise.all([1, 2, 3].map(() => atmosphere.broadcast(channel, `m${++sent}`)));
      await eventually(() => atmosphere.resource(trackingId)?.state === 'away', 'the client to be away');
      client = await reconnect(atmosphere, channel, 'websocket', trackingId, undefined, cursorsOf(got));
      await client.messages.waitForCount(3);
      expect(read(client).order, `round ${round}`).toEqual(range(sent - 2, sent));
    }
    got.push(...client.messages.items);
    expect(
      got.map((raw) => {
        const frame = parsePositionedText(raw);
        return frame?.kind === 'message' ? frame.body : raw;
      }),
    ).toEqual(range(1, sent));
    await client.close();
  });

  test('clients that do not ask for positions (atmosphere.js, wAsync) get the payload as it is', async () => {
    const channel = `/positions/r${++run}`;
    const plain = await connectTestClient(atmosphere.url(channel), 'websocket', {
      query: { [AtmosphereHeaders.cursors]: formatCursors([{ stream: channel, epoch: 'x', seq: 1 }]) },
    });
    const ours = await connectTestClient(atmosphere.url(channel), 'websocket', { query: positioned() });
    await atmosphere.broadcast(channel, '\u001dstarts with the mark');
    await atmosphere.broadcast(channel, 'plain');
    await plain.messages.waitForCount(2);
    await ours.messages.waitForCount(2);
    expect(plain.messages.items).toEqual(['\u001dstarts with the mark', 'plain']);
    expect(read(ours).order).toEqual(['\u001dstarts with the mark', 'plain']);
    // A message written to one client alone has no position; one starting with the mark is escaped.
    atmosphere.resource(ours.trackingId)!.write('\u001dp1,e,s|x');
    await ours.messages.waitForCount(3);
    expect(read(ours).messages[2]).toEqual({ body: '\u001dp1,e,s|x', cursor: undefined });
    await plain.close();
    await ours.close();
  });
});

describe('the log no longer holds the gap (log of 100 per stream)', () => {
  let atmosphere: Atmosphere;
  beforeAll(async () => {
    atmosphere = await startTestAtmosphere({
      rateLimit: false,
      cache: { maxPerClient: 20 },
      log: { maxRecordsPerStream: 100 },
    });
    atmosphere.managed('/positions/{run}', {});
  });
  afterAll(() => atmosphere.close());

  test.each(TRANSPORTS)(
    '%s: a reset naming seq 2 comes before anything newer, then the 100 the log holds, then live',
    async (transport) => {
      const channel = `/positions/r${++run}`;
      const { first, cursor } = await awayAfterFirst(atmosphere, channel, transport);
      const second = await reconnect(atmosphere, channel, transport, first.trackingId, first.received, [
        cursor,
      ]);
      await second.messages.waitForCount(101);
      await atmosphere.broadcast(channel, 'live');
      await second.messages.waitForCount(102);
      const got = read(second);
      expect(got.resets).toEqual([
        {
          stream: channel,
          from: { epoch: cursor.epoch, seq: 2 },
          resumeAt: { epoch: cursor.epoch, seq: MISSED + 2 - 100 },
        },
      ]);
      expect(got.order).toEqual(['reset:2', ...range(MISSED + 2 - 100, MISSED + 1), 'live']);
      await second.close();
    },
  );
});

/** A test server whose stream log is `log` (selected over the memory log), without rate limits. */
function startWithLog(log: StreamLog, options: AtmosphereOptions): Promise<Atmosphere> {
  return startTestAtmosphere({
    rateLimit: false,
    ...options,
    providers: [
      defineProvider({
        kind: 'stream-log',
        name: log.name,
        priority: 10,
        isAvailable: () => true,
        create: () => log,
      }),
    ],
  });
}

/**
 * A memory log whose reads, once `holdReads()` is called, are answered when the test says: the read is made
 * at once (what the store holds then), its answer held back — as a Redis reply that comes in behind the
 * replies of appends sent after the read.
 */
function heldReadsLog(): StreamLog & {
  holdReads(): Promise<void>;
  answerReads(): void;
} {
  let holding = false;
  const answers: (() => void)[] = [];
  let asked: (() => void) | undefined;
  const inner = new MemoryStreamLog();
  const log = watchedLog(inner, {}, { name: 'held-reads' });
  return Object.assign(log, {
    read(stream: string, after: number): LogRead | undefined | Promise<LogRead | undefined> {
      const read = inner.read(stream, after);
      if (!holding) return read;
      asked?.();
      return new Promise<LogRead | undefined>((resolve) => answers.push(() => resolve(read)));
    },
    holdReads(): Promise<void> {
      holding = true;
      return new Promise<void>((resolve) => (asked = resolve));
    },
    answerReads(): void {
      holding = false;
      for (const answer of answers.splice(0)) answer();
    },
  });
}

describe("an asynchronous store answers the resume's read after live messages came (cache of 20)", () => {
  test.each(TRANSPORTS)(
    '%s: 50 live messages wait behind the replay of 500, none dropped by the cache limit',
    async (transport) => {
      const log = heldReadsLog();
      const atmosphere = await startWithLog(log, { cache: { maxPerClient: 20 } });
      try {
        expect(atmosphere.log.name).toBe('held-reads');
        atmosphere.managed('/positions/{run}', {});
        const channel = `/positions/r${++run}`;
        const { first, cursor } = await awayAfterFirst(atmosphere, channel, transport);
        const asked = log.holdReads();
        const reconnecting = reconnect(atmosphere, channel, transport, first.trackingId, first.received, [
          cursor,
        ]);
        // The resume has read the log (through m501); its answer has not come back yet.
        await asked;
        await Promise.all(range(MISSED + 2, MISSED + 51).map((live) => atmosphere.broadcast(channel, live)));
        log.answerReads();
        const second = await reconnecting;
        await second.messages.waitFor((raw) => raw.endsWith(`|m${MISSED + 51}`));
        const got = read(second);
        expect(got.resets).toEqual([]);
        expect(got.order).toEqual(range(2, MISSED + 51));
        await second.close();
      } finally {
        await atmosphere.close();
      }
    },
  );
});

describe('messages dropped by backpressure while the resume reads the log (high-water mark of 10, drop-newest)', () => {
  // Long-polling resumes a new resource at its handshake poll, with no connection (no backpressure applies).
  test.each<TestTransport>(['websocket', 'sse', 'streaming'])(
    '%s: the stream stays marked lost, and the next reconnection gets them from the log',
    async (transport) => {
      const log = heldReadsLog();
      const atmosphere = await startWithLog(log, {
        backpressure: { highWaterMark: 10, policy: 'drop-newest' },
      });
      try {
        atmosphere.managed('/positions/{run}', {});
        const channel = `/positions/r${++run}`;
        const { first, cursor } = await afterFirst(atmosphere, channel, transport);
        await first.close();
        for (let i = 2; i <= 21; i++) await atmosphere.broadcast(channel, `m${i}`);
        // A new resource resumes from the cursor: its read (m2..m21) is answered after 50 live messages came.
        const asked = log.holdReads();
        const reconnecting = reconnect(atmosphere, channel, transport, undefined, 0, [cursor]);
        await asked;
        // m22..m31 wait behind the replay; the high-water mark drops m32..m71 (drop-newest).
        await Promise.all(range(22, 71).map((live) => atmosphere.broadcast(channel, live)));
        log.answerReads();
        const second = await reconnecting;
        await second.messages.waitFor((raw) => raw.endsWith('|m31'));
        const resource = internal(atmosphere.resource(second.trackingId))!;
        await eventually(() => resource.queue.pending.length === 0, 'the replay to be written');
        expect(resource.queue.dropped).toBe(40);
        // Told at once: a reset frame after m31 names the gap's start (the drops could not be written).
        const secondRead = read(second);
        expect(secondRead.order).toEqual([...range(2, 31), 'reset:32']);
        second.cut();
        await eventually(() => resource.state === 'away', 'the client to be away');
        // It comes back with the cursor of m31 (to get the gap back): what was dropped after it comes from the
        // log, not a trusted queue.
        const third = await reconnect(atmosphere, channel, transport, second.trackingId, second.received, [
          secondRead.messages.at(-1)!.cursor!,
        ]);
        await atmosphere.broadcast(channel, 'live');
        await third.messages.waitFor((raw) => raw.endsWith('|live'));
        const again = read(third);
        expect(again.resets).toEqual([]);
        expect([...range(2, 31), ...again.order]).toEqual([...range(2, 71), 'live']);
        await third.close();
      } finally {
        await atmosphere.close();
      }
    },
  );
});

/**
 * A positioned client that reconnects with `cursors` and reads nothing until `resume()`: its socket buffers fill,
 * then the server's, so what the server queues for it stays pending. Raw sockets (the test clients always read).
 */
async function stalledReconnect(
  atmosphere: Atmosphere,
  channel: string,
  transport: 'websocket' | 'sse' | 'streaming',
  trackingId: string,
  received: number,
  cursors: readonly StreamCursor[],
): Promise<{ frames: Inbox<string>; resume: () => void; close: () => void }> {
  const url = protocolUrl(atmosphere.url(channel), transport, {
    trackingId,
    received,
    query: positioned(cursors),
  });
  const client = await stallableClient(url, transport);
  client.stall();
  return { frames: client.frames, resume: () => client.resume(), close: () => client.close() };
}

describe('a replay larger than the cache limit, too large to write at once (cache of 20)', () => {
  const REPLAY = 400;
  // 64 KiB each: 25 MiB in all, more than the kernel's socket buffers take while the client reads nothing.
  const payload = 'p'.repeat(64 * 1024);

  test.each<'websocket' | 'sse' | 'streaming'>(['websocket', 'sse', 'streaming'])(
    '%s: live messages queued while it is written push none of it out',
    async (transport) => {
      const atmosphere = await startTestAtmosphere({
        rateLimit: false,
        cache: { maxPerClient: 20 },
        log: { maxBytesPerStream: 64 * 1024 * 1024, maxBytes: 128 * 1024 * 1024 },
      });
      try {
        atmosphere.managed('/positions/{run}', {});
        const channel = `/positions/r${++run}`;
        const { first, cursor } = await afterFirst(atmosphere, channel, transport);
        first.cut();
        await eventually(
          () => atmosphere.resource(first.trackingId)?.state === 'away',
          'the client to be away',
        );
        for (let i = 2; i <= REPLAY + 1; i++) await atmosphere.broadcast(channel, `m${i}:${payload}`);
        // The queue kept 20 of them: the client resumes from the log, 400 replayed into its queue at once.
        const client = await stalledReconnect(
          atmosphere,
          channel,
          transport,
          first.trackingId,
          first.received,
          [cursor],
        );
        const resource = internal(atmosphere.resource(first.trackingId))!;
        await eventually(
          () => resource.state === 'connected' && resource.queue.pending.length > 100,
          'the replay to wait for the stalled client',
        );
        const dropped = resource.queue.dropped;
        for (let i = 1; i <= 50; i++) await atmosphere.broadcast(channel, `live${i}`);
        client.resume();
        await client.frames.waitFor((raw) => raw.endsWith('|live50'), 20_000);
        const bodies = client.frames.items.map((raw) => {
          const frame = parsePositionedText(raw);
          if (frame === undefined) throw new Error(`unreadable frame ${raw.slice(0, 100)}`);
          return frame.kind === 'reset' ? `reset:${frame.reset.from.seq}` : frame.body.split(':')[0]!;
        });
        // Every replayed message, then the live ones; no reset (nothing was lost), never cut.
        expect(bodies).toEqual([
          ...range(2, REPLAY + 1),
          ...Array.from({ length: 50 }, (_, i) => `live${i + 1}`),
        ]);
        expect(resource.queue.dropped - dropped).toBe(0);
        expect(resource.state).toBe('connected');
        client.close();
      } finally {
        await atmosphere.close();
      }
    },
  );
});
