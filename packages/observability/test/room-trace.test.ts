import { redisBackplane } from '@atmosphere/redis';
import { createRooms } from '@atmosphere/rooms';
import {
  connectTestClient,
  startTestAtmosphere,
  startTestRedis,
  TestScope,
} from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { tracing } from '../src/index.ts';
import { inMemoryTracing, named, parentOf } from './tracing-support.ts';

describe("a room's traffic in traces", () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test('a room message is traced with atmosphere.room on its broadcast (node A) and its relay (node B)', async () => {
    const otel = inMemoryTracing();
    scope.track({ close: () => otel.close() });
    const redis = await startTestRedis();
    scope.track({ close: () => redis.stop() });
    const tracer = otel.provider.getTracer('test');
    const node = async () => {
      const atmosphere = scope.track(
        await startTestAtmosphere({
          providers: [
            redisBackplane({ url: redis.url, channelPrefix: 'observability-room-trace:' }),
            tracing({ tracer }),
          ],
        }),
      );
      scope.track(createRooms(atmosphere, { path: '/rooms' }));
      return atmosphere;
    };
    const a = await node();
    const b = await node();
    const join = async (url: string, name: string) => {
      const client = scope.track(await connectTestClient(url, 'websocket'));
      await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: name }));
      await client.messages.waitFor((text) => (JSON.parse(text) as { type: string }).type === 'join_ack');
      return client;
    };
    const alice = await join(a.url('/rooms'), 'alice');
    const bob = await join(b.url('/rooms'), 'bob');

    await alice.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: 'traced hello' }));
    await bob.messages.waitFor((text) => text.includes('traced hello'));

    const spans = otel.exporter.getFinishedSpans();
    // Every relay that reached a node with the room open names it (a node without the room has no channel to
    // ask: nothing is delivered there); the message's relay is the last one.
    const relays = named(spans, 'atmosphere.backplane.relay');
    for (const each of relays)
      if (each.attributes['atmosphere.fanout'] !== 0)
        expect(each.attributes['atmosphere.room']).toBe('lobby');
    const relay = relays.at(-1)!;
    // The message's broadcast on node A (the sender excluded: no recipient there) is the relay's parent.
    const broadcast = named(spans, 'atmosphere.broadcast').find(
      (span) => span.spanContext().spanId === parentOf(relay),
    );
    expect(broadcast, 'the relay continues the broadcast on node A').toBeDefined();
    expect(broadcast!.attributes).toMatchObject({
      'atmosphere.room': 'lobby',
      'atmosphere.broadcaster': 'rooms:lobby',
      'atmosphere.action': 'broadcast',
    });
    expect(relay.attributes).toMatchObject({
      'atmosphere.room': 'lobby',
      'atmosphere.broadcaster': 'rooms:lobby',
      'atmosphere.action': 'relay',
      'atmosphere.fanout': 1,
    });
    // Channels that are not rooms carry no room attribute.
    for (const span of named(spans, 'atmosphere.broadcast'))
      if (span.attributes['atmosphere.broadcaster'] !== 'rooms:lobby')
        expect(span.attributes['atmosphere.room']).toBeUndefined();
  });
});
