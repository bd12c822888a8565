import type { Server as HttpServer } from 'node:http';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import {
  connectTestClient,
  startTestAtmosphere,
  startTestRedis,
  type TestClient,
  type TestRedis,
} from '@atmosphere/runtime/testing';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { durable } from '../src/index.ts';

/**
 * Room history on an asynchronous durable log (a real redis-server): a process that stops and a new one on the
 * same Redis — the new room reads its history back (messages said meanwhile wait and are numbered after it),
 * ids go on after the last one given, `sinceId` replays across the restart, and the history kept in memory is
 * the newest `capacity` messages.
 */
let redis: TestRedis;
const servers: Server[] = [];
const clients: TestClient[] = [];
let run = 0;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  for (const server of servers.splice(0)) await stop(server);
});

async function stop(server: Server): Promise<void> {
  const closing = server.close();
  (server.server as HttpServer).closeAllConnections();
  await closing;
  servers.splice(servers.indexOf(server), 1);
}

async function start(prefix: string): Promise<Server> {
  const server = await startTestAtmosphere({
    rateLimit: false,
    autoload: false,
    providers: durable({ redis: redis.url, prefix, kinds: ['stream-log', 'session-store'] }),
  });
  expect(server.log.name).toBe('redis');
  servers.push(server);
  return server;
}

describe('room history on Redis', () => {
  test('a new process reads it back, numbers on after the last id, and replays sinceId across the restart', async () => {
    const prefix = `rooms${++run}:`;
    const first = await start(prefix);
    const lobby = createRooms(first, { path: '/rooms', history: 100 }).room('lobby');
    for (let n = 1; n <= 30; n++) expect((await lobby.broadcast({ n })).id).toBe(n);
    await stop(first);

    const second = await start(prefix);
    const rooms = createRooms(second, { path: '/rooms', history: 10 });
    const again = rooms.room('lobby');
    // Said before the history is back from Redis: it waits, and gets the next id.
    const said = again.broadcast({ n: 31 });
    expect((await said).id).toBe(31);
    expect(again.history().map((message) => [message.id, (message.data as { n: number }).n])).toEqual(
      Array.from({ length: 10 }, (_, i) => [22 + i, 22 + i]),
    );
    expect(again.lastMessageId).toBe(31);

    const client = await connectTestClient(second.url('/rooms'), 'websocket');
    clients.push(client);
    await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'late', sinceId: 27 }));
    const frames: unknown[] = [];
    for (let i = 0; i < 5; i++) frames.push(JSON.parse(await client.messages.next()));
    expect(frames[0]).toMatchObject({ type: 'join_ack', room: 'lobby' });
    expect(frames.slice(1)).toEqual(
      [28, 29, 30, 31].map((n) => ({ type: 'message', room: 'lobby', id: n, data: { n } })),
    );
    await again.broadcast({ n: 32 });
    expect(JSON.parse(await client.messages.next())).toEqual({
      type: 'message',
      room: 'lobby',
      id: 32,
      data: { n: 32 },
    });
  });

  test('a join with a sinceId older than memory keeps is sent the older messages from Redis first; what is said meanwhile waits', async () => {
    const prefix = `rooms${++run}:`;
    const first = await start(prefix);
    const lobby = createRooms(first, { path: '/rooms', history: 100 }).room('lobby');
    for (let n = 1; n <= 30; n++) await lobby.broadcast({ n });
    await stop(first);

    const second = await start(prefix);
    const again = createRooms(second, { path: '/rooms', history: 10 }).room('lobby');
    expect((await again.broadcast({ n: 31 })).id).toBe(31);
    expect(again.history().map((message) => message.id)).toEqual(
      Array.from({ length: 10 }, (_, i) => 22 + i),
    );

    const client = await connectTestClient(second.url('/rooms'), 'websocket');
    clients.push(client);
    await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'late', sinceId: 5 }));
    // Said while the join (and its read of older history from Redis) is under way: it reaches the joiner
    // after its replay, never before nor twice.
    const said = again.broadcast({ n: 32 });
    const frames = (await client.messages.take(28, 10_000)).map(
      (text) => JSON.parse(text) as { type: string; id?: number; data?: { n: number } },
    );
    expect((await said).id).toBe(32);
    expect(frames[0]).toMatchObject({ type: 'join_ack', room: 'lobby' });
    expect(frames.slice(1).map((frame) => [frame.type, frame.id, frame.data?.n])).toEqual(
      Array.from({ length: 27 }, (_, i) => ['message', i + 6, i + 6]),
    );
    // Nothing twice: the next frame is the next message.
    await again.broadcast({ n: 33 });
    expect(JSON.parse(await client.messages.next())).toMatchObject({ type: 'message', id: 33 });
  });

  test('turning history off forgets what the log kept; the memory log keeps none across a restart', async () => {
    const prefix = `rooms${++run}:`;
    const first = await start(prefix);
    const lobby = createRooms(first, { history: 5 }).room('lobby');
    for (let n = 1; n <= 3; n++) await lobby.broadcast({ n });
    lobby.enableHistory(0);
    // The delete goes to Redis after the appends before it: wait until the log no longer holds the stream.
    for (let reads = 0; (await first.log.state('room-history:lobby')) !== undefined; reads++)
      expect(reads).toBeLessThan(1000);
    await stop(first);
    const second = await start(prefix);
    const again = createRooms(second, { history: 5 }).room('lobby');
    expect((await again.broadcast({ n: 1 })).id).toBe(1);
    expect(again.history().map((message) => message.id)).toEqual([1]);

    const memory = await startTestAtmosphere({ rateLimit: false, autoload: false });
    servers.push(memory);
    expect(memory.log.durable).toBe(false);
    const local = createRooms(memory, { history: 5 }).room('lobby');
    expect((await local.broadcast({ n: 1 })).id).toBe(1);
  });
});
