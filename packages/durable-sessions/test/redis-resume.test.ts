import type { Server as HttpServer } from 'node:http';
import type { Socket } from 'node:net';
import { Atmosphere, type ResetEvent, type Subscription } from '@atmosphere/client';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { Inbox, startTestAtmosphere, startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { durable } from '../src/index.ts';

/**
 * Resume by cursor from an asynchronous store (Redis Streams): the client's connection writes nothing while
 * the log is read, live messages broadcast meanwhile wait behind the replay, and every message arrives once,
 * in order. A real redis-server, real sockets, `@atmosphere/client`; the cache keeps 20 messages per client.
 */
let redis: TestRedis;
let server: Server | undefined;
let subscription: Subscription | undefined;
let run = 0;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  if (server) {
    const closing = server.close();
    (server.server as HttpServer).closeAllConnections();
    await closing;
  }
  server = undefined;
});

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('500 missed while cut, 50 more during the resume: 550 once, in order, no reset', async () => {
    server = await startTestAtmosphere({
      rateLimit: false,
      cache: { maxPerClient: 20 },
      autoload: false,
      providers: durable({ redis: redis.url, prefix: `resume${++run}:`, kinds: ['stream-log'] }),
    });
    expect(server.log.name).toBe('redis');
    server.managed('/feed', {}, { codec: 'text' });
    const sockets = new Set<Socket>();
    server.server.on('connection', (socket: Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    const texts = new Inbox<string>(10_000);
    const resets: ResetEvent[] = [];
    const live: Promise<unknown>[] = [];
    const atmosphere = server;
    subscription = new Atmosphere().subscribe(
      { url: server.url('/feed'), transport, fallbackTransport: [], reconnectInterval: 50 },
      {
        message: (message) => texts.push(message.text),
        reset: (event) => resets.push(event),
        // Broadcast while the resume reads the log: these must wait behind the replay, not overtake it.
        reopen: () => {
          for (let n = 502; n <= 551; n++) live.push(atmosphere.broadcast('/feed', `m${n}`));
        },
      },
    );
    await subscription.ready({ signal: AbortSignal.timeout(8_000) });
    await server.broadcast('/feed', 'm1');
    await texts.waitForCount(1);
    for (const socket of sockets) socket.destroy();
    await Promise.all(Array.from({ length: 500 }, (_, i) => atmosphere.broadcast('/feed', `m${i + 2}`)));
    await texts.waitForCount(551, 15_000);
    await Promise.all(live);
    expect(texts.items).toEqual(Array.from({ length: 551 }, (_, i) => `m${i + 1}`));
    expect(resets).toEqual([]);
  });
});
