import { AtmosphereHeaders, parsePositionedText, type StreamReset } from '@atmosphere/protocol';
import { afterEach, describe, expect, test } from 'vitest';
import type { Atmosphere, BackpressurePolicy } from '../src/index.ts';
import { connectTestClient, eventually, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';
import { internal } from './internals.ts';
import { type StallableClient, stallableClient } from './stallable-client.ts';

/**
 * A connected client past the high-water mark under `drop-newest` or `drop-oldest` loses messages. One that
 * asked for positions is told: a reset frame of the stream, naming the first position dropped, before the
 * next message of the stream it gets — one per run of drops — then every later message. A client without
 * positions has no positions to name: it gets nothing new. Real sockets; the client stalls by no longer
 * reading its socket.
 *
 * Long-polling is not here: a poll is answered within a turn of the event loop and a client that does not
 * read does not poll again — it is away then, where the cache limits apply (and a positioned client resumes
 * from the log with its cursor), never the backpressure policy.
 */
type Transport = 'websocket' | 'sse' | 'streaming';

const HIGH_WATER_MARK = 10;
// 64 KiB each: a few hundred fill the kernel's socket buffers of a client that reads nothing.
const PAYLOAD = 'p'.repeat(64 * 1024);
/** Most messages broadcast to make one run of drops (bounded: 64 MiB). */
const MAX_BROADCASTS = 1000;

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

/** Reconnects to an existing resource over `transport` with raw sockets it can stop reading. */
function rawClient(
  url: string,
  transport: Transport,
  trackingId: string,
  query: Record<string, string>,
): Promise<StallableClient> {
  return stallableClient(protocolUrl(url, transport, { trackingId, received: 0, query }), transport);
}

/** A resource for a client with (or without) positions, then the same tracking id over raw sockets. */
async function connect(
  channel: string,
  transport: Transport,
  positions: boolean,
): Promise<{ client: StallableClient; trackingId: string }> {
  const query: Record<string, string> = positions ? { [AtmosphereHeaders.positions]: 'true' } : {};
  const first = await connectTestClient(atmosphere!.url(channel), transport, { received: 0, query });
  first.cut();
  await eventually(() => atmosphere!.resource(first.trackingId)?.state === 'away', 'the client to be away');
  const client = await rawClient(atmosphere!.url(channel), transport, first.trackingId, query);
  await eventually(
    () => atmosphere!.resource(first.trackingId)?.state === 'connected',
    'the client to be connected',
  );
  return { client, trackingId: first.trackingId };
}

type Frame =
  { kind: 'message'; body: string; seq: number | undefined } | { kind: 'reset'; reset: StreamReset };

function parse(raw: string): Frame {
  const frame = parsePositionedText(raw);
  if (frame === undefined) throw new Error(`unreadable frame ${raw.slice(0, 80)}`);
  if (frame.kind === 'reset') return frame;
  return { kind: 'message', body: frame.body.split(':')[0]!, seq: frame.cursor?.seq };
}

describe.each<Transport>(['websocket', 'sse', 'streaming'])('%s', (transport) => {
  describe.each<BackpressurePolicy>(['drop-newest', 'drop-oldest'])('policy %s', (policy) => {
    test('a client with positions gets one reset frame per run of drops, naming where it starts, then every later message', async () => {
      atmosphere = await startTestAtmosphere({
        rateLimit: false,
        backpressure: { highWaterMark: HIGH_WATER_MARK, policy, maxBytes: 256 * 1024 * 1024, maxStallMs: 0 },
      });
      atmosphere.managed('/drops', {});
      const { client, trackingId } = await connect('/drops', transport, true);
      const plain = await connect('/drops', transport, false);
      const resource = internal(atmosphere.resource(trackingId))!;
      const plainResource = internal(atmosphere.resource(plain.trackingId))!;
      const drops: string[] = [];
      resource.on('drop', (p) => drops.push(p));
      let sent = 0;
      // Two runs of drops, the client reading everything in between.
      for (let run = 1; run <= 2; run++) {
        client.stall();
        plain.client.stall();
        const before = resource.queue.dropped;
        const plainBefore = plainResource.queue.dropped;
        const dropping = (): boolean =>
          resource.queue.dropped >= before + 5 && plainResource.queue.dropped >= plainBefore + 5;
        for (let i = 0; i < MAX_BROADCASTS && !dropping(); i++)
          await atmosphere.broadcast('/drops', `m${++sent}:${PAYLOAD}`);
        expect(dropping()).toBe(true);
        expect(resource.state).toBe('connected');
        client.resume();
        plain.client.resume();
        await eventually(
          () => resource.queue.pending.length === 0 && plainResource.queue.pending.length === 0,
          'both clients to drain',
          20_000,
        );
      }
      await atmosphere.broadcast('/drops', `m${++sent}:end`);
      await client.frames.waitFor((raw) => raw.endsWith(`m${sent}:end`), 20_000);
      await plain.client.frames.waitFor((raw) => raw.endsWith(`m${sent}:end`), 20_000);

      const frames = client.frames.items.map(parse);
      // Every message in order, none twice; each gap announced by exactly one reset frame just before the
      // message after it, naming the gap's first position and where the stream resumes.
      let expected = 1;
      let resets = 0;
      let missing = 0;
      for (let i = 0; i < frames.length; i++) {
        const frame = frames[i]!;
        if (frame.kind === 'reset') {
          resets++;
          const next = frames[i + 1];
          expect(next?.kind, `reset frame ${resets} is followed by a message`).toBe('message');
          const seq = (next as { seq: number }).seq;
          expect(frame.reset.stream).toBe('/drops');
          expect(frame.reset.from.seq).toBe(expected);
          expect(seq).toBeGreaterThan(expected);
          // Known when the next message waited behind the frame (always, for drop-oldest: the survivors).
          if (policy === 'drop-oldest' || frame.reset.resumeAt !== undefined)
            expect(frame.reset.resumeAt?.seq).toBe(seq);
          missing += seq - expected;
          expected = seq;
          continue;
        }
        expect(frame.body).toBe(`m${frame.seq}`);
        expect(frame.seq, `message ${frame.body} comes without a gap before it`).toBe(expected);
        expected++;
      }
      expect(expected).toBe(sent + 1);
      // A reset per run of drops: two runs (more only if the socket took a message in the middle of one).
      expect(resets).toBeGreaterThanOrEqual(2);
      expect(missing).toBe(resource.queue.dropped);
      expect(drops.length).toBe(resource.queue.dropped);
      expect(drops.every((p) => p === policy)).toBe(true);

      // Without positions nothing new is sent: the messages that were not dropped, in order, and no frame
      // of the positions protocol.
      const plainBodies = plain.client.frames.items;
      expect(plainBodies.some((raw) => raw.startsWith('\u001d'))).toBe(false);
      const indexes = plainBodies.map((raw) => Number(raw.slice(1, raw.indexOf(':'))));
      expect([...indexes].sort((a, b) => a - b)).toEqual(indexes);
      expect(indexes.at(-1)).toBe(sent);
      expect(plainResource.queue.dropped).toBeGreaterThan(0);
      expect(indexes.length).toBe(sent - plainResource.queue.dropped);
      expect(plainResource.state).toBe('connected');
      client.close();
      plain.client.close();
    });
  });
});

describe.each<Transport>(['websocket', 'sse', 'streaming'])('%s, back without positions', (transport) => {
  test('a reset frame that waited for a client with positions is not written to it when it comes back without them', async () => {
    atmosphere = await startTestAtmosphere({
      rateLimit: false,
      backpressure: {
        highWaterMark: HIGH_WATER_MARK,
        policy: 'drop-newest',
        maxBytes: 256 * 1024 * 1024,
        maxStallMs: 0,
      },
    });
    atmosphere.managed('/drops', {});
    const { client, trackingId } = await connect('/drops', transport, true);
    const resource = internal(atmosphere.resource(trackingId))!;
    client.stall();
    let sent = 0;
    for (let i = 0; i < MAX_BROADCASTS && resource.queue.dropped < 5; i++)
      await atmosphere.broadcast('/drops', `m${++sent}:${PAYLOAD}`);
    expect(resource.queue.dropped).toBeGreaterThanOrEqual(5);
    // The run's reset frame waits in the queue, behind what the socket could not take.
    expect([...resource.queue.pending].some((message) => message.control)).toBe(true);
    client.close();
    await eventually(() => resource.state === 'away', 'the client to be away');
    const back = await rawClient(atmosphere.url('/drops'), transport, trackingId, {});
    await atmosphere.broadcast('/drops', `m${++sent}:end`);
    await back.frames.waitFor((raw) => raw.endsWith(`m${sent}:end`), 20_000);
    // Only messages, no frame of the positions protocol.
    expect(back.frames.items.filter((raw) => raw.startsWith('\u001d'))).toEqual([]);
    expect(back.frames.items.every((raw) => /^m\d+:/.test(raw))).toBe(true);
    back.close();
  });
});
