import { connect, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  protocolUrl,
  startTestAtmosphere,
  type TestClient,
} from '../src/testing/index.ts';
import { internal } from './internals.ts';

/**
 * The time-without-progress bound: a client that stops reading is cut once something has waited for it for
 * `maxStallMs` while its socket sent nothing — whatever the message size, and even when the message and byte
 * bounds are far away — with the documented end (WebSocket 1013, SSE error event, end of the response), and
 * without holding up anybody else.
 */
let atmosphere: Atmosphere | undefined;
const opened: { destroy(): void }[] = [];
afterEach(async () => {
  for (const socket of opened.splice(0)) socket.destroy();
  await atmosphere?.close();
  atmosphere = undefined;
});

const MAX_STALL_MS = 1_000;

type StalledTransport = 'websocket' | 'sse' | 'streaming';

/**
 * A client over a raw TCP socket (or ws's) that reads the response headers (the tracking id is one) and then
 * stops reading: the kernel's buffers fill, then the server's.
 */
async function stalledClient(server: Atmosphere, transport: StalledTransport): Promise<string> {
  if (transport === 'websocket') {
    const ws = new WebSocket(protocolUrl(server.url('/feed'), 'websocket', { trackMessageLength: false }));
    opened.push({ destroy: () => ws.terminate() });
    const trackingId = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString().split('|')[0]!));
      ws.once('error', reject);
    });
    (ws as unknown as { _socket: Socket })._socket.pause();
    return trackingId;
  }
  const url = new URL(protocolUrl(server.url('/feed'), transport));
  const socket = connect(Number(url.port), url.hostname);
  opened.push(socket);
  socket.write(`GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\n\r\n`);
  return new Promise<string>((resolve, reject) => {
    let head = '';
    const onData = (chunk: Buffer): void => {
      head += chunk.toString('latin1');
      const match = new RegExp(`^${AtmosphereHeaders.trackingId}: (.+)$`, 'im').exec(head);
      if (!head.includes('\r\n\r\n') || !match) return;
      socket.off('data', onData);
      socket.pause();
      resolve(match[1]!.trim());
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

/** Round trips of a healthy client (a message the server echoes back), while the test runs. */
function roundTrips(client: TestClient): { stop(): Promise<number[]> } {
  const times: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 2_000; i++) {
      const started = performance.now();
      const marker = `ping-${i}`;
      await client.send(marker);
      await client.messages.waitFor((m) => m === marker, 5_000);
      times.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return times;
    },
  };
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)]!;
}

async function startServer(backpressure: Record<string, number>): Promise<Atmosphere> {
  const server = await startTestAtmosphere({ backpressure, rateLimit: false, reconnectGraceMs: 60_000 });
  server.managed(
    '/feed',
    {
      onMessage(message: string, resource) {
        resource.write(message);
      },
    },
    { codec: 'text' },
  );
  atmosphere = server;
  return server;
}

/**
 * Writes `size`-byte messages to the stalled client alone, `perTurn` per turn of the event loop, until it is
 * cut (bounded: 64 MiB in all, 30 s). Returns what happened.
 */
async function flood(server: Atmosphere, trackingId: string, size: number, perTurn: number) {
  const resource = internal(server.resource(trackingId))!;
  const payload = 'y'.repeat(size);
  const limit = Math.ceil((64 * 1024 * 1024) / size);
  const deadline = Date.now() + 30_000;
  let sent = 0;
  let peakBytes = 0;
  let stalledSince = 0;
  const drops: string[] = [];
  resource.on('drop', (policy) => drops.push(policy));
  while (resource.state === 'connected' && sent < limit && Date.now() < deadline) {
    for (let i = 0; i < perTurn && resource.state === 'connected'; i++, sent++) resource.write(payload);
    const connection = resource.connection;
    if (connection) {
      peakBytes = Math.max(peakBytes, resource.queue.pendingBytes + connection.buffered);
      stalledSince = resource.stalledSince;
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  return { resource, sent, peakBytes, stalledSince, cutAt: Date.now(), drops };
}

describe.each<StalledTransport>(['websocket', 'sse', 'streaming'])('%s', (transport) => {
  test.each([50, 1024])(
    'a client that stops reading %i-byte messages is cut by the time bound alone; others unaffected',
    async (size) => {
      // The message and byte bounds out of reach: only the time bound can cut.
      const server = await startServer({
        maxStallMs: MAX_STALL_MS,
        maxBytes: 512 * 1024 * 1024,
        highWaterMark: 10_000_000,
      });
      const healthy = await connectTestClient(server.url('/feed'), 'websocket');
      const trackingId = await stalledClient(server, transport);
      const pings = roundTrips(healthy);
      // Slow enough that the 64 MiB bound of the loop is not reached before the time bound can cut (about 2 s).
      const result = await flood(server, trackingId, size, size < 100 ? 2_000 : 50);
      const times = await pings.stop();
      expect(result.resource.state).toBe('away');
      // Cut by the time bound: after maxStallMs without progress, within 2 s of crossing it.
      expect(result.stalledSince).toBeGreaterThan(0);
      const stalledFor = result.cutAt - result.stalledSince;
      expect(stalledFor).toBeGreaterThanOrEqual(MAX_STALL_MS);
      expect(stalledFor).toBeLessThan(MAX_STALL_MS + 2_000);
      // It was not the message bound's policy that cut it.
      expect(result.drops).toEqual([]);
      // What it holds now waits within the cache limits for it to come back.
      expect(result.resource.queue.pending.length).toBeLessThanOrEqual(1000);
      // The healthy client's round trips were never held up by it.
      expect(times.length).toBeGreaterThan(10);
      expect(p99(times)).toBeLessThan(200);
      await healthy.close();
    },
  );
});

test.each([50, 1024])(
  'with the defaults, a client that stops reading %i-byte messages is cut by the first bound it crosses; server memory bounded',
  async (size) => {
    const server = await startServer({ maxStallMs: MAX_STALL_MS });
    const trackingId = await stalledClient(server, 'websocket');
    // Slow enough that the 64 MiB bound of the loop is not reached before the time bound can cut (about 2 s).
    const result = await flood(server, trackingId, size, size < 100 ? 2_000 : 50);
    expect(result.resource.state).toBe('away');
    // Never more than the byte bound (1 MiB) plus a turn's messages waited for it while connected.
    expect(result.peakBytes).toBeLessThanOrEqual(1024 * 1024 + 2_000 * size);
    expect(result.sent).toBeLessThan(Math.ceil((64 * 1024 * 1024) / size));
  },
);

test('a connection that keeps sending, however slowly, is never cut by the time bound', async () => {
  const server = await startServer({ maxStallMs: 300 });
  const client = await connectTestClient(server.url('/feed'), 'websocket');
  const resource = internal(server.resource(client.trackingId))!;
  // Three times the bound of steady traffic that the client reads: something may wait, but it moves.
  const until = Date.now() + 900;
  let sent = 0;
  while (Date.now() < until) {
    for (let i = 0; i < 50; i++, sent++) resource.write('z'.repeat(1024));
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await client.messages.waitForCount(sent, 10_000);
  expect(resource.state).toBe('connected');
  await client.close();
});

test('backpressure.maxStallMs is checked', async () => {
  await expect(startTestAtmosphere({ backpressure: { maxStallMs: -1 } })).rejects.toThrow(
    /backpressure.maxStallMs must be a non-negative integer/,
  );
});
