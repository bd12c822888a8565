import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { Atmosphere, type Subscription } from '../src/index.ts';
import { closeServer, range, record, trackSockets, ready } from './helpers.ts';

let server: Server | undefined;
let subscription: Subscription | undefined;
afterEach(async () => {
  vi.unstubAllGlobals();
  await subscription?.close();
  subscription = undefined;
  await closeServer(server);
  server = undefined;
});

type Refusal = 'none' | '403' | 'destroy';

/**
 * Atmosphere attached to our own HTTP server, behind an "upgrade" listener that plays a proxy: it can
 * answer 403 or drop the socket before Atmosphere sees the upgrade.
 */
async function proxiedServer(): Promise<{
  server: Server;
  http: HttpServer;
  refuse(mode: Refusal): void;
  upgrades: string[];
}> {
  const http = createServer();
  const atmosphere = await startTestAtmosphere({ server: http });
  let mode: Refusal = 'none';
  const upgrades: string[] = [];
  http.removeAllListeners('upgrade');
  http.on('upgrade', (request, socket: Duplex, head: Buffer) => {
    upgrades.push(mode);
    if (mode === '403')
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else if (mode === 'destroy') socket.destroy();
    else atmosphere.handleUpgrade(request, socket, head);
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  atmosphere.managed('/feed', { onReady: (resource) => resource.write('welcome') }, { codec: 'text' });
  return { server: atmosphere, http, refuse: (next) => void (mode = next), upgrades };
}

function url(http: HttpServer, path: string): string {
  return `http://127.0.0.1:${(http.address() as AddressInfo).port}${path}`;
}

describe.each([
  ['403', 'sse'],
  ['destroy', 'sse'],
  ['403', 'long-polling'],
  ['destroy', 'streaming'],
] as const)('an upgrade refused with %s on the first connect', (mode, fallback) => {
  test(`falls back to ${fallback} and works there`, async () => {
    const proxied = await proxiedServer();
    server = proxied.server;
    proxied.refuse(mode);
    const received: string[] = [];
    server.managed(
      '/echo',
      { onReady: (r) => r.write('welcome'), onMessage: (m: string) => void received.push(m) },
      { codec: 'text' },
    );
    subscription = new Atmosphere().subscribe({
      url: url(proxied.http, '/echo'),
      fallbackTransport: fallback,
      reconnectInterval: 50,
    });
    const recorder = record(subscription);
    await ready(subscription);
    expect(recorder.events.items.slice(0, 2)).toEqual([
      `transportFailure:websocket->${fallback}`,
      `open:${fallback}`,
    ]);
    expect(await recorder.messages.next()).toBe('welcome');
    subscription.push('hello');
    await recorder.messages.waitForCount(1);
    await expect.poll(() => received).toEqual(['hello']);
    expect(subscription.status().blockedTransports).toEqual(['websocket']);
    expect(proxied.upgrades).toEqual([mode]);
  });
});

test('when WebSocket starts failing later, the reconnect falls back and replays what was missed', async () => {
  const proxied = await proxiedServer();
  server = proxied.server;
  const sockets = trackSockets(server);
  subscription = new Atmosphere().subscribe({ url: url(proxied.http, '/feed'), reconnectInterval: 50 });
  const recorder = record(subscription);
  await ready(subscription);
  expect(subscription.transport).toBe('websocket');
  expect(await recorder.messages.next()).toBe('welcome');
  const trackingId = subscription.trackingId;
  await Promise.all(range(1, 3).map((n) => server!.broadcast('/feed', n)));
  await recorder.messages.waitForCount(4);
  proxied.refuse('403');
  sockets.cut();
  await Promise.all(range(4, 6).map((n) => server!.broadcast('/feed', n)));
  await recorder.events.waitFor('reopen');
  expect(subscription.transport).toBe('sse');
  expect(subscription.trackingId).toBe(trackingId);
  await Promise.all(range(7, 8).map((n) => server!.broadcast('/feed', n)));
  await recorder.messages.waitForCount(9);
  expect(recorder.messages.items).toEqual(['welcome', ...range(1, 8)]);
  expect(recorder.events.items).toContain('transportFailure:websocket->sse');
  // Later reconnects skip the refused transport.
  sockets.cut();
  await recorder.events.waitFor('reopen', recorder.events.items.lastIndexOf('reopen:sse') + 1);
  expect(proxied.upgrades).toEqual(['none', '403']);
});

test('a platform without WebSocket uses the fallback directly', async () => {
  const proxied = await proxiedServer();
  server = proxied.server;
  vi.stubGlobal('WebSocket', undefined);
  subscription = new Atmosphere().subscribe({ url: url(proxied.http, '/feed') });
  const recorder = record(subscription);
  await ready(subscription);
  expect(recorder.events.items.slice(0, 2)).toEqual(['transportFailure:websocket->sse', 'open:sse']);
  expect(subscription.status().lastError?.code).toBe('UNSUPPORTED_TRANSPORT');
  expect(await recorder.messages.next()).toBe('welcome');
  expect(proxied.upgrades).toEqual([]);
});

test('nothing reachable: bounded reconnect rounds over the whole chain, then failureToReconnect', async () => {
  const http = createServer();
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  const target = url(http, '/feed');
  await new Promise<void>((resolve) => http.close(() => resolve()));
  subscription = new Atmosphere().subscribe({
    url: target,
    reconnectInterval: 10,
    maxReconnectInterval: 20,
    maxReconnectOnClose: 3,
  });
  const recorder = record(subscription);
  await recorder.events.waitFor('failureToReconnect');
  expect(subscription.state).toBe('error');
  // 4 rounds (the first + 3 reconnects), each trying websocket, then sse, then long-polling.
  expect(recorder.events.count('transportFailure')).toBe(8);
  expect(recorder.events.count('reconnect')).toBe(3);
  expect(recorder.events.items.at(-2)).toBe('failureToReconnect:3');
  expect(recorder.events.items.at(-1)).toBe('error:RECONNECT_EXHAUSTED');
  expect(subscription.status().blockedTransports).toEqual([]);
  await expect(subscription.ready()).rejects.toThrow(/error/);
});
