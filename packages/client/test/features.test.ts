import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type Subscription } from '../src/index.ts';
import { closeServer, range, record, TRANSPORTS, ready } from './helpers.ts';

let server: Server | undefined;
let subscription: Subscription | undefined;
let extra: HttpServer | undefined;
const hanging: Duplex[] = [];
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  await closeServer(server);
  server = undefined;
  const closing = extra;
  extra = undefined;
  if (closing) {
    for (const socket of hanging) socket.destroy();
    hanging.length = 0;
    closing.closeAllConnections();
    await new Promise<void>((resolve) => closing.close(() => resolve()));
  }
});

describe.each(TRANSPORTS)('%s', (transport) => {
  test('sends the client heartbeat at the interval the handshake asks for; it never reaches onMessage', async () => {
    server = await startTestAtmosphere({ heartbeat: { intervalMs: 60_000, clientIntervalMs: 100 } });
    let heartbeats = 0;
    const messages: unknown[] = [];
    server.managed('/hb', { onHeartbeat: () => void heartbeats++, onMessage: (m) => void messages.push(m) });
    subscription = new Atmosphere().subscribe({ url: server.url('/hb'), transport, fallbackTransport: [] });
    await ready(subscription);
    await eventually(() => heartbeats >= 3, 'three client heartbeats');
    expect(messages).toEqual([]);
  });

  test('multi-line, unicode and pipe-laden messages arrive intact and are counted once each', async () => {
    server = await startTestAtmosphere();
    server.managed('/m', {}, { codec: 'text' });
    subscription = new Atmosphere().subscribe({ url: server.url('/m'), transport, fallbackTransport: [] });
    const recorder = record(subscription);
    await ready(subscription);
    const sent = [
      'line 1\nline 2',
      '12|34|',
      ' leading space',
      '日本語 😀',
      '{"a":"b"}',
      'X-not-a-heartbeat',
      'last',
    ];
    for (const message of sent) await server.broadcast('/m', message);
    expect(await recorder.messages.take(sent.length)).toEqual(sent);
    expect(subscription.received).toBe(sent.length);
  });

  test('suspend() leaves without the close request (a WebSocket closes with 4000, coming back); resume() gets what was missed', async () => {
    server = await startTestAtmosphere();
    const disconnects: string[] = [];
    server.managed('/s', { onDisconnect: (_r, reason) => void disconnects.push(reason) }, { codec: 'text' });
    subscription = new Atmosphere().subscribe({ url: server.url('/s'), transport, fallbackTransport: [] });
    const recorder = record(subscription);
    await ready(subscription);
    const id = subscription.trackingId;
    await server.broadcast('/s', '1');
    await recorder.messages.waitForCount(1);
    subscription.suspend();
    expect(subscription.state).toBe('suspended');
    expect(recorder.events.items).toContain('close:suspended');
    await eventually(() => server!.resource(id)?.state === 'away', 'the resource to be away');
    await server.broadcast('/s', '2');
    subscription.resume();
    await ready(subscription);
    expect(recorder.events.items.at(-1)).toBe(`reopen:${transport}`);
    await server.broadcast('/s', '3');
    expect(await recorder.messages.waitForCount(3)).toEqual(['1', '2', '3']);
    expect(subscription.trackingId).toBe(id);
    expect(disconnects).toEqual([]);
  });
});

test('the offline queue is bounded: past maxQueuedMessages the oldest is dropped with QUEUE_FULL', async () => {
  server = await startTestAtmosphere();
  const received: string[] = [];
  server.managed('/q', { onMessage: (m: string) => void received.push(m) }, { codec: 'text' });
  subscription = new Atmosphere().subscribe({ url: server.url('/q'), maxQueuedMessages: 2 });
  const recorder = record(subscription);
  subscription.push('a');
  subscription.push('b');
  subscription.push('c');
  expect(subscription.status().queued).toBe(2);
  expect(recorder.errors).toEqual([expect.stringMatching(/^QUEUE_FULL: .*maxQueuedMessages/)]);
  await eventually(() => received.length === 2, 'the queued messages');
  expect(received).toEqual(['b', 'c']);
});

test('a post the server refuses (413) is dropped with SEND_FAILED; the next one goes through', async () => {
  server = await startTestAtmosphere({ maxMessageBytes: 10 });
  const received: string[] = [];
  server.managed('/p', { onMessage: (m: string) => void received.push(m) }, { codec: 'text' });
  subscription = new Atmosphere().subscribe({ url: server.url('/p'), transport: 'long-polling' });
  const recorder = record(subscription);
  await ready(subscription);
  subscription.push('far too long for the limit');
  subscription.push('short');
  await eventually(() => received.length === 1, 'the short message');
  expect(received).toEqual(['short']);
  expect(recorder.errors).toEqual([expect.stringMatching(/^SEND_FAILED: .*413/)]);
  expect(subscription.state).toBe('connected');
});

test('connectTimeout: a server that accepts but never answers makes the attempt fail over to the next transport', async () => {
  // Requests reach it through another server (another port): that host is named.
  server = await startTestAtmosphere({ allowedHosts: ['127.0.0.1'] });
  server.managed('/t', {}, { codec: 'text' });
  // A second server on which the upgrade hangs forever: the WebSocket never opens.
  extra = createServer();
  extra.on('upgrade', (_request, socket: Duplex) => void hanging.push(socket));
  extra.on('request', (request, response) => void server!.handleRequest(request, response));
  await new Promise<void>((resolve) => extra!.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(extra.address() as AddressInfo).port}/t`;
  subscription = new Atmosphere().subscribe({ url, connectTimeout: 200 });
  const recorder = record(subscription);
  await ready(subscription);
  expect(recorder.events.items.slice(0, 2)).toEqual(['transportFailure:websocket->sse', 'open:sse']);
  expect(subscription.status().lastError?.code).toBe('CONNECT_TIMEOUT');
});

test('timeout: a silent connection is declared dead (clientTimeout) and reconnected', async () => {
  server = await startTestAtmosphere({ heartbeat: false });
  server.managed('/idle', {}, { codec: 'text' });
  subscription = new Atmosphere().subscribe({
    url: server.url('/idle'),
    transport: 'sse',
    timeout: 150,
    reconnectInterval: 10,
  });
  const recorder = record(subscription);
  await ready(subscription);
  await recorder.events.waitFor('clientTimeout');
  await recorder.events.waitFor('reopen');
  const id = subscription.trackingId;
  await server.broadcast('/idle', 'still here');
  expect(await recorder.messages.next()).toBe('still here');
  expect(subscription.trackingId).toBe(id);
});

test('binary WebSocket frames arrive as ArrayBuffer and count like text', async () => {
  server = await startTestAtmosphere();
  server.managed(
    '/b',
    { onReady: (resource) => resource.write(new Uint8Array([1, 2, 3])) },
    { codec: 'text' },
  );
  subscription = new Atmosphere().subscribe({ url: server.url('/b'), fallbackTransport: [] });
  const bodies: (string | ArrayBuffer)[] = [];
  subscription.on('message', (message) => bodies.push(message.responseBody));
  await eventually(() => bodies.length === 1, 'the binary message');
  expect(bodies[0]).toBeInstanceOf(ArrayBuffer);
  expect([...new Uint8Array(bodies[0] as ArrayBuffer)]).toEqual([1, 2, 3]);
  expect(subscription.received).toBe(1);
});

test('without the protocol, HTTP transports learn the tracking id from the response header', async () => {
  server = await startTestAtmosphere();
  server.managed('/np', { onReady: (resource) => resource.write('hi') }, { codec: 'text' });
  subscription = new Atmosphere().subscribe({
    url: server.url('/np'),
    transport: 'streaming',
    enableProtocol: false,
    fallbackTransport: [],
  });
  const recorder = record(subscription);
  expect(await recorder.messages.next()).toBe('hi');
  expect(subscription.trackingId).toMatch(/^[0-9a-f-]{36}$/);
  expect(server.resource(subscription.trackingId)).toBeDefined();
});

test('the status snapshot says where the connection is', async () => {
  server = await startTestAtmosphere();
  server.managed('/st', {}, { codec: 'text' });
  subscription = new Atmosphere().subscribe({
    url: server.url('/st'),
    transport: 'sse',
    fallbackTransport: [],
  });
  expect(subscription.status()).toMatchObject({
    state: 'connecting',
    trackingId: '0',
    received: 0,
    queued: 0,
    reconnectAttempts: 0,
  });
  await ready(subscription);
  await Promise.all(range(1, 3).map((n) => server!.broadcast('/st', n)));
  await eventually(() => subscription!.received === 3, 'three messages');
  const status = subscription.status();
  expect(status).toMatchObject({
    state: 'connected',
    transport: 'sse',
    received: 3,
    queued: 0,
    blockedTransports: [],
    lastError: undefined,
  });
  expect(status.trackingId).toBe(subscription.trackingId);
  expect(status.connectedAt).toBeLessThanOrEqual(Date.now());
  expect(status.lastDataAt).toBeGreaterThanOrEqual(status.connectedAt!);
});
