import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, ConnectionModel, RoomModel } from '../src/index.ts';
import { closeServer, trackSockets } from './helpers.ts';

/**
 * The reset as the bindings' state shows it (`lastReset` of useAtmosphere / useRoom; useChat and useStreaming
 * mirror the same subscription event), and rooms refetching their history by `sinceId` on their own.
 */
let servers: Server[] = [];
const stops: (() => void)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) stop();
  for (const server of servers) await closeServer(server);
  servers = [];
});

describe('useRoom state', () => {
  // Long-polling is left out here: the history a room sends again after the reset (500 messages at once) is
  // itself larger than this test's cache (20) and log (100), so between two polls it cannot be kept either.
  test.each(['websocket', 'sse'] as const)(
    '%s: 500 room messages while cut, log of 100, cache of 20: a reset, then every message once from the history',
    async (transport) => {
      const server = await startTestAtmosphere({
        rateLimit: false,
        cache: { maxPerClient: 20 },
        log: { maxRecordsPerStream: 100 },
      });
      servers.push(server);
      const rooms = createRooms(server, { path: '/rooms', history: 1000 });
      const lobby = rooms.room('lobby');
      const sockets = trackSockets(server);
      const model = new RoomModel<{ n: number }>({
        request: { url: server.url('/rooms'), transport, fallbackTransport: [], reconnectInterval: 50 },
        room: 'lobby',
        member: { id: 'alice' },
        keep: 1000,
        atmosphere: new Atmosphere(),
      });
      model.connect();
      stops.push(() => model.disconnect());
      await eventually(() => model.getSnapshot().joined, 'alice to join');
      await lobby.broadcast({ n: 1 });
      await eventually(() => model.getSnapshot().messages.length === 1, 'the first message');
      sockets.cut();
      await Promise.all(Array.from({ length: 500 }, (_, i) => lobby.broadcast({ n: i + 2 })));
      await eventually(() => model.getSnapshot().messages.length >= 501, 'every message').catch(
        (error: Error) => {
          const { messages, lastReset, connectionState, error: failure } = model.getSnapshot();
          throw new Error(
            `${error.message}: ${messages.length} (${messages
              .slice(0, 3)
              .map((m) => m.data.n)
              .join(',')}…${messages
              .slice(-3)
              .map((m) => m.data.n)
              .join(',')}), ${connectionState}, ${String(failure)}, reset ${JSON.stringify(lastReset)}`,
          );
        },
      );
      const snapshot = model.getSnapshot();
      expect(snapshot.lastReset).toMatchObject({ stream: 'rooms:lobby', from: { seq: expect.any(Number) } });
      expect(snapshot.messages.map((message) => message.data.n)).toEqual(
        Array.from({ length: 501 }, (_, i) => i + 1),
      );
    },
  );
});

test('useAtmosphere state: a restart with the memory store shows the reset, with where the gap starts', async () => {
  let server = await startTestAtmosphere({ rateLimit: false });
  servers.push(server);
  server.managed('/feed', {}, { codec: 'text' });
  const port = Number(new URL(server.url('/')).port);
  const model = new ConnectionModel<string>({
    request: { url: server.url('/feed'), reconnectInterval: 50 },
    atmosphere: new Atmosphere(),
  });
  model.connect();
  stops.push(() => model.disconnect());
  await eventually(() => model.getSnapshot().state === 'connected', 'connected');
  await server.broadcast('/feed', 'a');
  await server.broadcast('/feed', 'b');
  await eventually(() => model.getSnapshot().messages.length === 2, 'two messages');
  expect(model.getSnapshot().lastReset).toBeNull();
  const epoch = model.subscription!.status().cursors[0]!.epoch;
  await closeServer(server);
  server = await startTestAtmosphere({ rateLimit: false, port });
  servers = [server];
  server.managed('/feed', {}, { codec: 'text' });
  await eventually(() => model.getSnapshot().lastReset !== null, 'the reset');
  expect(model.getSnapshot().lastReset).toMatchObject({ stream: '/feed', from: { epoch, seq: 3 } });
});
