import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type Subscription } from '../src/index.ts';
import { closeServer, range, record, trackSockets, TRANSPORTS, ready } from './helpers.ts';

let servers: Server[] = [];
let subscription: Subscription | undefined;
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  for (const server of servers) await closeServer(server);
  servers = [];
});

interface Connect {
  transport: string;
  trackingId: string;
  received: number | undefined;
}

async function start(port = 0): Promise<{ server: Server; connects: Connect[] }> {
  const connects: Connect[] = [];
  const server = await startTestAtmosphere({
    port,
    interceptors: [
      {
        name: 'spy',
        onConnect({ request }) {
          connects.push({
            transport: request.transport,
            trackingId: request.trackingId,
            received: request.received,
          });
        },
      },
    ],
  });
  server.managed('/feed', {}, { codec: 'text' });
  servers.push(server);
  return { server, connects };
}

function broadcastRange(server: Server, from: number, to: number): Promise<unknown> {
  return Promise.all(range(from, to).map((n) => server.broadcast('/feed', n)));
}

describe.each(TRANSPORTS)('%s', (transport) => {
  test('a cut connection: reconnects with the same tracking id and its count; nothing lost, nothing twice', async () => {
    const { server, connects } = await start();
    const sockets = trackSockets(server);
    subscription = new Atmosphere().subscribe({
      url: server.url('/feed'),
      transport,
      fallbackTransport: [],
      reconnectInterval: 50,
    });
    const recorder = record(subscription);
    const countsAtReconnect: number[] = [];
    subscription.on('reconnect', () => countsAtReconnect.push(subscription!.received));
    await ready(subscription);
    const trackingId = subscription.trackingId;
    await broadcastRange(server, 1, 10);
    await recorder.messages.waitForCount(10);

    // Messages in flight when the network drops, and messages sent before the server notices.
    const inFlight = broadcastRange(server, 11, 15);
    expect(sockets.cut()).toBeGreaterThan(0);
    await inFlight;
    await broadcastRange(server, 16, 20);
    await recorder.events.waitFor('reopen');
    await broadcastRange(server, 21, 25);
    await recorder.messages.waitForCount(25);

    expect(recorder.messages.items).toEqual(range(1, 25));
    expect(subscription.trackingId).toBe(trackingId);
    expect(subscription.received).toBe(25);
    const reconnect = connects.find(
      (connect, index) => index > 0 && connect.received === countsAtReconnect[0],
    );
    expect(reconnect).toMatchObject({ trackingId, received: countsAtReconnect[0] });
    expect(recorder.events.items).toContain('close:lost');
    expect(recorder.events.count('open')).toBe(1);
    expect(recorder.errors).toEqual([]);
  });

  test('a server restart on the same port: the client comes back under its tracking id, messages continue once', async () => {
    const first = await start();
    const port = first.server.address()!.port;
    subscription = new Atmosphere().subscribe({
      url: first.server.url('/feed'),
      transport,
      fallbackTransport: [],
      reconnectInterval: 50,
    });
    const recorder = record(subscription);
    await ready(subscription);
    const trackingId = subscription.trackingId;
    await broadcastRange(first.server, 1, 5);
    await recorder.messages.waitForCount(5);
    await closeServer(first.server);
    const second = await start(port);
    await recorder.events.waitFor('reopen');
    await eventually(
      () => second.server.resource(trackingId)?.state === 'connected' || transport === 'long-polling',
      'the resource',
    );
    await broadcastRange(second.server, 6, 10);
    await recorder.messages.waitForCount(10);
    expect(recorder.messages.items).toEqual(range(1, 10));
    expect(second.connects[0]).toMatchObject({ trackingId, received: 5 });
    expect(subscription.trackingId).toBe(trackingId);
  });
});

test('pushes made while disconnected are queued and sent in order after the reconnect', async () => {
  const { server } = await start();
  const sockets = trackSockets(server);
  const received: string[] = [];
  server.managed('/in', { onMessage: (message: string) => void received.push(message) }, { codec: 'text' });
  subscription = new Atmosphere().subscribe({
    url: server.url('/in'),
    transport: 'websocket',
    fallbackTransport: [],
    reconnectInterval: 50,
  });
  const recorder = record(subscription);
  await ready(subscription);
  subscription.push('a');
  await eventually(() => received.length === 1, 'the first message');
  sockets.cut();
  await recorder.events.waitFor('close');
  subscription.push('b');
  subscription.push({ c: 1 });
  expect(subscription.status().queued).toBe(2);
  await recorder.events.waitFor('reopen');
  await eventually(() => received.length === 3, 'the queued messages');
  expect(received).toEqual(['a', 'b', '{"c":1}']);
  expect(subscription.status().queued).toBe(0);
});
