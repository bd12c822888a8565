import { afterEach, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import type { DisconnectReason } from '../src/spi/resource.ts';
import {
  connectTestClient,
  eventually,
  recordingLogger,
  startTestAtmosphere,
  type TestClient,
  type TestTransport,
} from '../src/testing/index.ts';
import { internal } from './internals.ts';

/**
 * Clients whose connection drops wait out the reconnect grace period as "away" resources, with their queues.
 * A server-wide cap bounds how many and how many bytes: past it the clients away longest are ended first.
 */
let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

const TRANSPORTS: TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];

async function start(away: { maxResources?: number; maxBytes?: number }) {
  const disconnects = new Map<string, DisconnectReason>();
  const server = await startTestAtmosphere({ reconnectGraceMs: 60_000, rateLimit: false, away });
  server.managed('/feed', {
    onDisconnect(resource, reason) {
      disconnects.set(resource.id, reason);
    },
  });
  atmosphere = server;
  return { server, disconnects };
}

/** Connects a client and cuts it (no close frame, no close request): its resource stays away. */
async function cutClient(server: Atmosphere, transport: TestTransport): Promise<string> {
  const client = await connectTestClient(server.url('/feed'), transport);
  await eventually(() => server.resource(client.trackingId)?.state === 'connected', 'connected');
  client.cut();
  await eventually(
    () => server.resource(client.trackingId)?.state !== 'connected',
    `the ${transport} client away`,
  );
  return client.trackingId;
}

test('more clients cut than maxResources: the ones away longest are ended first, on every transport', async () => {
  const { server, disconnects } = await start({ maxResources: 4 });
  expect(server.describe().awayLimits).toEqual({ maxResources: 4, maxBytes: 64 * 1024 * 1024 });
  const ids: string[] = [];
  // Three rounds over the four transports: twelve clients away, in a known order.
  for (let round = 0; round < 3; round++)
    for (const transport of TRANSPORTS) ids.push(await cutClient(server, transport));
  const { resources } = server.describe();
  expect(resources.away).toBe(4);
  expect(resources.awayCapped).toBe(4);
  expect(resources.awayEvicted).toBe(8);
  // The first eight are gone for good (reason timeout: their grace cut short); the last four still wait.
  for (const id of ids.slice(0, 8)) {
    expect(server.resource(id)).toBeUndefined();
    expect(disconnects.get(id)).toBe('timeout');
  }
  for (const id of ids.slice(8)) expect(server.resource(id)?.state).toBe('away');
  // A client still away comes back and gets what was sent meanwhile.
  await server.broadcast('/feed', 'while away');
  const back = await connectTestClient(server.url('/feed'), 'websocket', { trackingId: ids[11]! });
  expect(await back.messages.waitForCount(1)).toEqual(['while away']);
  expect(server.describe().resources.awayCapped).toBe(3);
  await back.close();
});

test('more bytes queued for away clients than maxBytes: the ones away longest are ended until under it', async () => {
  const { server, disconnects } = await start({ maxBytes: 20_000 });
  const ids: string[] = [];
  for (const transport of TRANSPORTS) ids.push(await cutClient(server, transport));
  const connected: TestClient = await connectTestClient(server.url('/feed'), 'websocket');
  expect(server.describe().resources).toMatchObject({ away: 4, awayBytes: 0 });
  // 8 000 bytes queued for each of the four away clients: 32 000 in all, over 20 000.
  const message = 'x'.repeat(8_000);
  await server.broadcast('/feed', message);
  await connected.messages.waitForCount(1);
  // Within a tick (1 s at most) of crossing the cap, the two away longest are ended: 16 000 bytes remain.
  const crossed = Date.now();
  await eventually(() => server.describe().resources.away === 2, 'two evicted', 2_000);
  expect(Date.now() - crossed).toBeLessThan(2_000);
  expect(server.describe().resources).toMatchObject({ away: 2, awayBytes: 16_000, awayEvicted: 2 });
  expect(disconnects.get(ids[0]!)).toBe('timeout');
  expect(disconnects.get(ids[1]!)).toBe('timeout');
  expect(server.resource(ids[2]!)?.state).toBe('away');
  expect(server.resource(ids[3]!)?.state).toBe('away');
  // The connected client was never at risk, and the away ones return to their message.
  expect(server.resource(connected.trackingId)?.state).toBe('connected');
  const back = await connectTestClient(server.url('/feed'), 'sse', { trackingId: ids[2]! });
  expect(await back.messages.waitForCount(1)).toEqual([message]);
  await eventually(() => server.describe().resources.awayBytes === 8_000, 'the bytes of the returned one');
  await back.close();
  await connected.close();
});

test('the away cap options are checked', async () => {
  await expect(startTestAtmosphere({ away: { maxResources: 0 } })).rejects.toThrow(
    /away.maxResources must be a positive integer/,
  );
});

test('a flood of evictions logs a bounded number of lines, with the count of the rest', async () => {
  const logger = recordingLogger();
  const server = await startTestAtmosphere({
    reconnectGraceMs: 60_000,
    rateLimit: false,
    away: { maxResources: 1 },
    logger,
  });
  server.managed('/feed', {});
  atmosphere = server;
  const cuts = 12;
  for (let i = 0; i < cuts; i++) await cutClient(server, 'websocket');
  // Every client past the first was evicted, one by one, as the next went away.
  expect(server.describe().resources.awayEvicted).toBe(cuts - 1);
  const capLines = () => logger.lines.filter((line) => line.message.includes('over the away cap'));
  const warnings = () => logger.lines.filter((line) => line.level === 'warn');
  // One warning; the rest at debug level, counted.
  expect(warnings().filter((line) => line.message.includes('over the away cap'))).toHaveLength(1);
  expect(capLines()).toHaveLength(cuts - 1);
  // The count is not lost: the shutdown reports what was held back.
  await server.close();
  atmosphere = undefined;
  const summary = warnings().find((line) => line.message.startsWith(`${cuts - 2} more like it`));
  expect(summary?.message, JSON.stringify(warnings())).toContain('over the away cap');
  expect(warnings().length).toBeLessThanOrEqual(3);
});

test('slow clients cut in a flood log one warning per kind of cut, and the count of the rest', async () => {
  const logger = recordingLogger();
  const server = await startTestAtmosphere({ reconnectGraceMs: 60_000, rateLimit: false, logger });
  server.managed('/feed', {});
  atmosphere = server;
  const clients = [];
  for (let i = 0; i < 6; i++) clients.push(await connectTestClient(server.url('/feed'), 'websocket'));
  // What the backpressure bound and the time bound do to a client that does not keep up.
  for (const [i, client] of clients.entries()) {
    const resource = internal(server.resource(client.trackingId))!;
    await eventually(() => resource.state === 'connected', 'connected');
    if (i < 4) resource.cut('1001 messages (2048 bytes) waiting', 'Too many pending messages');
    else resource.cut('nothing sent for 30000 ms with 2048 bytes waiting', 'No progress');
  }
  const cutWarnings = () =>
    logger.lines.filter(
      (line) => line.level === 'warn' && line.message.includes('disconnecting the slow client'),
    );
  expect(cutWarnings()).toHaveLength(2);
  await server.close();
  atmosphere = undefined;
  expect(
    logger.lines.filter((line) => line.level === 'warn' && line.message.startsWith('3 more like it')),
  ).toHaveLength(1);
  expect(
    logger.lines.filter((line) => line.level === 'warn' && line.message.startsWith('1 more like it')),
  ).toHaveLength(1);
});
