import type { Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Atmosphere, BackpressurePolicy } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  FrameReader,
  protocolUrl,
  startTestAtmosphere,
} from '../src/testing/index.ts';
import { internal } from './internals.ts';

const HIGH_WATER_MARK = 50;
const PAYLOAD = 'x'.repeat(16 * 1024);

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

/** A WebSocket client that stops reading after the handshake: its socket buffers fill, then the server's. */
async function stalledClient(
  url: string,
): Promise<{ ws: WebSocket; trackingId: string; resume: () => void; frames: string[] }> {
  const ws = new WebSocket(protocolUrl(url, 'websocket'));
  const reader = new FrameReader();
  const frames: string[] = [];
  let trackingId = '';
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      for (const message of reader.push(data.toString())) {
        if (!trackingId) {
          trackingId = message.split('|')[0]!;
          resolve();
        } else frames.push(message);
      }
    });
    ws.once('error', reject);
  });
  const socket = (ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return { ws, trackingId, frames, resume: () => socket.resume() };
}

describe.each<BackpressurePolicy>(['disconnect', 'drop-oldest', 'drop-newest'])(
  'backpressure policy %s',
  (policy) => {
    test('a client that stops reading never delays the others and never grows server memory past the mark', async () => {
      atmosphere = await startTestAtmosphere({
        backpressure: { highWaterMark: HIGH_WATER_MARK, policy },
        rateLimit: false,
      });
      atmosphere.managed('/feed', {});
      const slow = await stalledClient(atmosphere.url('/feed'));
      const fast = await connectTestClient(atmosphere.url('/feed'), 'websocket');
      const fastResource = internal(atmosphere.resource(fast.trackingId))!;
      const drops: string[] = [];
      internal(atmosphere.resource(slow.trackingId))!.on('drop', (p) => drops.push(p));

      const total = 1500;
      for (let i = 0; i < total; i++) {
        await atmosphere.broadcast('/feed', `${i}:${PAYLOAD}`);
        // While connected, the slow client's queue never passes the mark; once disconnected, the cache limit.
        const resource = internal(atmosphere.resource(slow.trackingId));
        if (resource) {
          const limit =
            resource.state === 'connected'
              ? HIGH_WATER_MARK
              : atmosphere.describe().cache.limits.maxPerClient;
          expect(resource.queue.pending.length).toBeLessThanOrEqual(limit);
        }
        // Paced to the fast client (it must never reach the mark itself, even on a loaded machine).
        if (i % 25 === 0)
          await eventually(() => fastResource.queue.pending.length === 0, 'the fast client to keep up');
      }
      // The fast client gets everything, in order, while the slow one is stuck.
      const received = await fast.messages.waitForCount(total, 20_000);
      expect(received.map((m) => Number(m.slice(0, m.indexOf(':'))))).toEqual(
        Array.from({ length: total }, (_, i) => i),
      );

      const slowResource = internal(atmosphere.resource(slow.trackingId));
      if (policy === 'disconnect') {
        // Closed with 1013; the resource waits (bounded) for the client to come back and catch up.
        await eventually(
          () => atmosphere!.resource(slow.trackingId)?.state !== 'connected',
          'the slow client to be disconnected',
        );
        expect(internal(atmosphere.resource(slow.trackingId))!.queue.pending.length).toBeLessThanOrEqual(
          atmosphere.describe().cache.limits.maxPerClient,
        );
      } else {
        expect(slowResource!.state).toBe('connected');
        expect(drops.length).toBeGreaterThan(0);
        expect(drops.every((p) => p === policy)).toBe(true);
        slow.resume();
        await eventually(() => slowResource!.queue.pending.length === 0, 'the slow client to drain');
        await atmosphere.broadcast('/feed', 'END');
        await eventually(() => slow.frames.at(-1) === 'END', 'the slow client to read everything');
        const indexes = slow.frames.slice(0, -1).map((m) => Number(m.slice(0, m.indexOf(':'))));
        // In order, no duplicates; what was dropped depends on the policy.
        expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
        expect(new Set(indexes).size).toBe(indexes.length);
        if (policy === 'drop-oldest') expect(indexes.at(-1)).toBe(total - 1);
        else expect(indexes.at(-1)).toBeLessThan(total - 1);
      }
      slow.ws.terminate();
      await fast.close();
    });
  },
);

describe.each([1024, 64 * 1024])('the byte bound, messages of %i bytes', (size) => {
  test('a client that stops reading is cut once its bytes pass maxBytes, long before the message count; the others get everything', async () => {
    const maxBytes = 256 * 1024;
    atmosphere = await startTestAtmosphere({ backpressure: { maxBytes }, rateLimit: false });
    atmosphere.managed('/feed', {});
    const slow = await stalledClient(atmosphere.url('/feed'));
    const fast = await connectTestClient(atmosphere.url('/feed'), 'websocket');
    const slowResource = internal(atmosphere.resource(slow.trackingId))!;
    const cut: { pending: number; bytes: number }[] = [];
    slowResource.on('drop', () =>
      cut.push({ pending: slowResource.queue.pending.length, bytes: slowResource.queue.pendingBytes }),
    );
    const payload = 'y'.repeat(size - 8);
    let sent = 0;
    // Bounded: enough to fill the kernel's socket buffers several times over, and never more.
    const limit = Math.ceil((32 * 1024 * 1024) / size);
    const pace = Math.max(1, Math.floor(maxBytes / size / 4));
    while (slowResource.state === 'connected' && sent < limit) {
      await atmosphere.broadcast('/feed', `${String(sent).padStart(7, '0')}${payload.slice(0, size - 8)}`);
      sent++;
      const connection = slowResource.connection;
      // Never more than the bound (plus the one message that crossed it) waits for the slow client.
      if (slowResource.state === 'connected' && connection)
        expect(slowResource.queue.pendingBytes + connection.buffered).toBeLessThanOrEqual(maxBytes + size);
      // Paced to the fast client, which reads: a quarter of the bound in flight at most.
      if (sent % pace === 0) await fast.messages.waitForCount(sent, 10_000);
    }
    expect(slowResource.state).not.toBe('connected');
    expect(cut).toHaveLength(1);
    // The byte bound cut it, not the count (1 000 messages).
    expect(cut[0]!.pending).toBeLessThan(1000);
    const received = await fast.messages.waitForCount(sent, 20_000);
    expect(received.map((m) => Number(m.slice(0, 7)))).toEqual(Array.from({ length: sent }, (_, i) => i));
    await fast.close();
    slow.ws.terminate();
  });
});

test.each(['websocket', 'sse', 'streaming'] as const)(
  'a %s client that comes back to a backlog larger than the byte bound catches up: it is never cut for its own replay',
  async (transport) => {
    const maxBytes = 64 * 1024;
    atmosphere = await startTestAtmosphere({ backpressure: { maxBytes }, rateLimit: false });
    atmosphere.managed('/feed', {});
    const first = await connectTestClient(atmosphere.url('/feed'), transport);
    first.cut();
    await eventually(() => atmosphere!.resource(first.trackingId)?.state === 'away', 'the client to be away');
    const chunk = 'z'.repeat(8 * 1024);
    for (let i = 0; i < 900; i++)
      await atmosphere.broadcast('/feed', `${String(i).padStart(3, '0')}${chunk}`);
    const back = await connectTestClient(atmosphere.url('/feed'), transport, {
      trackingId: first.trackingId,
      received: first.received,
    });
    await atmosphere.broadcast('/feed', `900${chunk}`);
    const received = await back.messages.waitForCount(901, 10_000);
    expect(received.map((m) => Number(m.slice(0, 3)))).toEqual(Array.from({ length: 901 }, (_, i) => i));
    expect(received.every((m) => m.length === 3 + chunk.length)).toBe(true);
    expect(atmosphere.resource(first.trackingId)?.state).toBe('connected');
    await back.close();
  },
);

test('a client that comes back to more messages than the count bound catches up: it is never cut for its own replay', async () => {
  atmosphere = await startTestAtmosphere({
    backpressure: { highWaterMark: HIGH_WATER_MARK },
    rateLimit: false,
  });
  atmosphere.managed('/feed', {});
  const first = await connectTestClient(atmosphere.url('/feed'), 'websocket');
  first.cut();
  await eventually(() => atmosphere!.resource(first.trackingId)?.state === 'away', 'the client to be away');
  // Four times the count bound, and more bytes than the socket takes at once: most of the replay waits.
  const count = HIGH_WATER_MARK * 4;
  const big = 'y'.repeat(64 * 1024);
  for (let i = 0; i < count; i++) await atmosphere.broadcast('/feed', `${String(i).padStart(3, '0')}${big}`);
  const back = await connectTestClient(atmosphere.url('/feed'), 'websocket', {
    trackingId: first.trackingId,
    received: first.received,
  });
  // Live messages while the replay still waits: the count bound must leave room for the backlog.
  expect(internal(atmosphere.resource(first.trackingId))?.queue.pending.length).toBeGreaterThan(
    HIGH_WATER_MARK,
  );
  for (let i = count; i < count + 3; i++)
    await atmosphere.broadcast('/feed', `${String(i).padStart(3, '0')}${big}`);
  const received = await back.messages.waitForCount(count + 3, 10_000);
  expect(received.map((m) => Number(m.slice(0, 3)))).toEqual(Array.from({ length: count + 3 }, (_, i) => i));
  expect(atmosphere.resource(first.trackingId)?.state).toBe('connected');
  await back.close();
});
