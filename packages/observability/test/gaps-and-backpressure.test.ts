import type { Socket } from 'node:net';
import {
  AtmosphereHeaders,
  formatCursors,
  parsePositionedText,
  type StreamCursor,
} from '@atmosphere/protocol';
import type { BackpressurePolicy } from '@atmosphere/runtime';
import {
  connectTestClient,
  eventually,
  FrameReader,
  protocolUrl,
  startTestAtmosphere,
  TestScope,
} from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { metrics, metricsHandler } from '../src/index.ts';
import { sample, scrape } from './prometheus-text.ts';

function positioned(cursors?: readonly StreamCursor[]): Record<string, string> {
  const query: Record<string, string> = { [AtmosphereHeaders.positions]: 'true' };
  if (cursors !== undefined) query[AtmosphereHeaders.cursors] = formatCursors(cursors);
  return query;
}

/** Bodies and resets of a positioned client's frames, in order (`reset:<from seq>`). */
function order(items: readonly string[]): string[] {
  return items.map((raw) => {
    const frame = parsePositionedText(raw);
    if (frame === undefined) throw new Error(`unreadable positioned frame ${JSON.stringify(raw)}`);
    return frame.kind === 'reset' ? `reset:${frame.reset.from.seq}` : frame.body;
  });
}

/** A WebSocket client that stops reading after the handshake: its socket buffers fill, then the server's. */
async function stalledClient(url: string): Promise<{ ws: WebSocket; trackingId: string }> {
  const ws = new WebSocket(protocolUrl(url, 'websocket'));
  const reader = new FrameReader();
  let trackingId = '';
  await new Promise<void>((resolve, reject) => {
    ws.on('message', (data: Buffer) => {
      for (const message of reader.push(data.toString())) {
        if (!trackingId) {
          trackingId = message.split('|')[0]!;
          resolve();
        }
      }
    });
    ws.once('error', reject);
  });
  (ws as unknown as { _socket: Socket })._socket.pause();
  return { ws, trackingId };
}

describe('/metrics counts the gaps signalled on resume and the backpressure actions', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test('stream replays and resets by reason: exact counts', async () => {
    const registry = new Registry();
    const atmosphere = scope.track(
      await startTestAtmosphere({
        providers: [metrics({ registry })],
        rateLimit: false,
        cache: { maxPerClient: 5 },
        log: { maxRecordsPerStream: 10 },
      }),
    );
    atmosphere.handle('/metrics', metricsHandler(registry));
    atmosphere.managed('/feed/{name}', {});

    let text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_stream_replayed_total') ?? 0).toBe(0);
    for (const reason of ['unknown', 'epoch', 'ahead', 'trimmed', 'truncated'])
      expect(sample(text, 'atmosphere_stream_resets_total', `reason="${reason}"`) ?? 0).toBe(0);

    // A client away while 30 messages pass, with a log of 10: the gap is signalled, the 10 replayed.
    const channel = '/feed/trimmed';
    const first = scope.track(
      await connectTestClient(atmosphere.url(channel), 'websocket', { received: 0, query: positioned() }),
    );
    await atmosphere.broadcast(channel, 'm1');
    await first.messages.waitForCount(1);
    const cursor = parsePositionedText(first.messages.items[0]!);
    if (cursor?.kind !== 'message' || cursor.cursor === undefined) throw new Error('no cursor');
    first.cut();
    await eventually(() => atmosphere.resource(first.trackingId)?.state === 'away', 'the client to be away');
    for (let i = 2; i <= 31; i++) await atmosphere.broadcast(channel, `m${i}`);
    await atmosphere.resource(first.trackingId)!.close();
    const back = scope.track(
      await connectTestClient(atmosphere.url(channel), 'websocket', {
        trackingId: first.trackingId,
        received: 0,
        query: positioned([cursor.cursor]),
      }),
    );
    await back.messages.waitForCount(11);
    expect(order(back.messages.items)).toEqual([
      'reset:2',
      ...Array.from({ length: 10 }, (_, i) => `m${22 + i}`),
    ]);

    // A cursor of another epoch (the history was lost): a reset, then the two records the stream holds.
    const other = '/feed/epoch';
    await atmosphere.broadcast(other, 'a');
    await atmosphere.broadcast(other, 'b');
    const foreign = scope.track(
      await connectTestClient(atmosphere.url(other), 'websocket', {
        received: 0,
        query: positioned([{ stream: other, epoch: 'before-the-restart', seq: 7 }]),
      }),
    );
    await foreign.messages.waitForCount(3);
    expect(order(foreign.messages.items)).toEqual(['reset:8', 'a', 'b']);

    text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_stream_resets_total', 'reason="trimmed"')).toBe(1);
    expect(sample(text, 'atmosphere_stream_resets_total', 'reason="epoch"')).toBe(1);
    expect(sample(text, 'atmosphere_stream_resets_total', 'reason="unknown"') ?? 0).toBe(0);
    expect(sample(text, 'atmosphere_stream_resets_total', 'reason="ahead"') ?? 0).toBe(0);
    expect(sample(text, 'atmosphere_stream_resets_total', 'reason="truncated"') ?? 0).toBe(0);
    expect(sample(text, 'atmosphere_stream_replayed_total')).toBe(12);
  });

  test('a slow client cut by the disconnect policy counts exactly one disconnect', async () => {
    const registry = new Registry();
    const atmosphere = scope.track(
      await startTestAtmosphere({
        providers: [metrics({ registry })],
        backpressure: { highWaterMark: 20, policy: 'disconnect' },
        rateLimit: false,
      }),
    );
    atmosphere.handle('/metrics', metricsHandler(registry));
    atmosphere.managed('/feed', {});
    const slow = await stalledClient(atmosphere.url('/feed'));
    scope.track({ close: () => slow.ws.terminate() });
    const payload = 'x'.repeat(16 * 1024);
    // Bounded: far more than the socket buffers and the mark hold, and never more.
    for (let i = 0; i < 4000 && atmosphere.resource(slow.trackingId)?.state === 'connected'; i++)
      await atmosphere.broadcast('/feed', `${i}:${payload}`);
    expect(atmosphere.resource(slow.trackingId)?.state).not.toBe('connected');
    // More broadcasts while it is away queue for its return: no further backpressure action.
    for (let i = 0; i < 10; i++) await atmosphere.broadcast('/feed', `after ${i}`);
    const text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_backpressure_total', 'action="disconnect"')).toBe(1);
    expect(sample(text, 'atmosphere_backpressure_total', 'action="drop-newest"') ?? 0).toBe(0);
    expect(sample(text, 'atmosphere_backpressure_total', 'action="drop-oldest"') ?? 0).toBe(0);
  });

  test.each<BackpressurePolicy>(['drop-newest', 'drop-oldest'])(
    '%s: every message dropped for a slow client is counted once',
    async (policy) => {
      const registry = new Registry();
      const atmosphere = scope.track(
        await startTestAtmosphere({
          providers: [metrics({ registry })],
          backpressure: { highWaterMark: 20, policy },
          rateLimit: false,
        }),
      );
      atmosphere.handle('/metrics', metricsHandler(registry));
      atmosphere.managed('/feed', {});
      const slow = await stalledClient(atmosphere.url('/feed'));
      scope.track({ close: () => slow.ws.terminate() });
      let drops = 0;
      atmosphere.resource(slow.trackingId)!.on('drop', (dropped) => {
        expect(dropped).toBe(policy);
        drops++;
      });
      const payload = 'x'.repeat(16 * 1024);
      for (let i = 0; i < 4000 && drops < 50; i++) await atmosphere.broadcast('/feed', `${i}:${payload}`);
      expect(drops).toBe(50);
      const text = await scrape(atmosphere.url('/metrics'));
      expect(sample(text, 'atmosphere_backpressure_total', `action="${policy}"`)).toBe(50);
      expect(sample(text, 'atmosphere_backpressure_total', 'action="disconnect"') ?? 0).toBe(0);
    },
  );
});
