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
