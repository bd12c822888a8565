import type { Atmosphere as Server } from '@atmosphere/runtime';
import { startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type ResetEvent, type Subscription } from '../src/index.ts';
import { closeServer, range, record, trackSockets, TRANSPORTS, ready } from './helpers.ts';

/**
 * No silent gap (issue 12's attack): the network drops while 500 messages are broadcast, the server's
 * missed-message cache holds 20 per client. `@atmosphere/client` presents its stream cursor on reconnect and
 * gets every message back from the stream log — or a `reset` event naming where its gap starts, before any
 * newer message, when the log no longer holds them or lost them (a restart with the memory store).
 */
const MISSED = 500;
let servers: Server[] = [];
let subscription: Subscription | undefined;
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  for (const server of servers) await closeServer(server);
  servers = [];
});

async function start(options: { port?: number; logRecords?: number } = {}): Promise<Server> {
  const server = await startTestAtmosphere({
    port: options.port ?? 0,
    rateLimit: false,
    cache: { maxPerClient: 20 },
    ...(options.logRecords === undefined ? {} : { log: { maxRecordsPerStream: options.logRecords } }),
  });
  server.managed('/feed', {}, { codec: 'text' });
  servers.push(server);
  return server;
}

function open(server: Server, transport: (typeof TRANSPORTS)[number]) {
  subscription = new Atmosphere().subscribe({
    url: server.url('/feed'),
    transport,
    fallbackTransport: [],
    reconnectInterval: 50,
  });
  const recorder = record(subscription);
  const resets: ResetEvent[] = [];
  subscription.on('reset', (event) => {
    resets.push(event);
    recorder.events.push(`reset:${event.from.seq}`);
  });
  // Messages and resets in one order, to check that a reset comes before anything newer.
  const order: string[] = [];
  subscription.on('message', (message) => order.push(message.text));
  subscription.on('reset', (event) => order.push(`reset:${event.from.seq}`));
  return { subscription, recorder, resets, order };
}

/** Broadcasts m<from>..m<to> without waiting between them (all of them before the client can come back). */
function broadcastAll(server: Server, from: number, to: number): Promise<unknown> {
  return Promise.all(range(from, to).map((n) => server.broadcast('/feed', `m${n}`)));
}

const m = (from: number, to: number) => range(from, to).map((n) => `m${n}`);

describe.each(TRANSPORTS)('%s', (transport) => {
  test('500 broadcast while the network is down, cache of 20: all 500 recovered, in order, none twice', async () => {
    const server = await start();
    const sockets = trackSockets(server);
    const { subscription, recorder, resets } = open(server, transport);
    await ready(subscription);
    await server.broadcast('/feed', 'm1');
    await recorder.messages.waitForCount(1);
    expect(sockets.cut()).toBeGreaterThan(0);
    await broadcastAll(server, 2, MISSED + 1);
    await recorder.events.waitFor('reopen');
    await recorder.messages.waitForCount(MISSED + 1);
    await server.broadcast('/feed', 'live');
    await recorder.messages.waitForCount(MISSED + 2);
    expect(recorder.messages.items).toEqual([...m(1, MISSED + 1), 'live']);
    expect(resets).toEqual([]);
    const cursors = subscription.status().cursors;
    expect(cursors).toEqual([{ stream: '/feed', epoch: cursors[0]!.epoch, seq: MISSED + 2 }]);
    expect(recorder.errors).toEqual([]);
  });

  test('the log holds only the last 100: a reset naming seq 2 comes first, then the 100, then live', async () => {
    const server = await start({ logRecords: 100 });
    const sockets = trackSockets(server);
    const { subscription, recorder, resets, order } = open(server, transport);
    await ready(subscription);
    await server.broadcast('/feed', 'm1');
    await recorder.messages.waitForCount(1);
    const epoch = subscription.status().cursors[0]!.epoch;
    sockets.cut();
    await broadcastAll(server, 2, MISSED + 1);
    await recorder.events.waitFor('reset');
    await recorder.messages.waitForCount(101);
    await server.broadcast('/feed', 'live');
    await recorder.messages.waitFor((text) => text === 'live');
    // After the reset: what the server's queue for this client still held of the gap (the cut connection's
    // last writes), then the 100 the log holds, then live — in order, none twice.
    expect(order.slice(0, 2)).toEqual(['m1', 'reset:2']);
    const after = order.slice(2);
    expect(after.slice(-101)).toEqual([...m(MISSED + 2 - 100, MISSED + 1), 'live']);
    const numbers = after.slice(0, -1).map((text) => Number(text.slice(1)));
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));
    expect(new Set(numbers).size).toBe(numbers.length);
    expect(resets).toEqual([
      {
        stream: '/feed',
        from: { epoch, seq: 2 },
        resumeAt: { epoch, seq: MISSED + 2 - 100 },
        at: resets[0]!.at,
      },
    ]);
    expect(subscription.status().lastReset).toBe(resets[0]);
  });

  test('the server restarts with the memory store: a reset names the old epoch, then the new stream', async () => {
    let server = await start();
    const port = Number(new URL(server.url('/')).port);
    const { subscription, recorder, resets, order } = open(server, transport);
    await ready(subscription);
    await broadcastAll(server, 1, 10);
    await recorder.messages.waitForCount(10);
    const before = subscription.status().cursors[0]!;
    await closeServer(server);
    servers = [];
    server = await start({ port });
    await recorder.events.waitFor('reopen');
    await server.broadcast('/feed', 'after');
    await recorder.messages.waitForCount(11);
    expect(order).toEqual([...m(1, 10), 'reset:11', 'after']);
    expect(resets[0]).toMatchObject({ stream: '/feed', from: { epoch: before.epoch, seq: 11 } });
    const after = subscription.status().cursors[0]!;
    expect(after.epoch).not.toBe(before.epoch);
    expect(after.seq).toBe(1);
  });
});

test('positions: false asks for none: the server sends the plain payload and no reset', async () => {
  const server = await start();
  subscription = new Atmosphere().subscribe({ url: server.url('/feed'), positions: false });
  const recorder = record(subscription);
  await ready(subscription);
  await server.broadcast('/feed', 'plain');
  await recorder.messages.waitForCount(1);
  const message = await new Promise<{ position: unknown; text: string }>((resolve) => {
    subscription!.on('message', (received) => resolve(received));
    void server.broadcast('/feed', 'second');
  });
  expect(message).toMatchObject({ text: 'second', position: undefined });
  expect(subscription.status().cursors).toEqual([]);
});
