import { createRooms } from '@atmosphere/rooms';
import {
  connectTestClient,
  Inbox,
  recordingLogger,
  startTestAtmosphere,
  TestScope,
} from '@atmosphere/runtime/testing';
import { Registry } from 'prom-client';
import { afterEach, describe, expect, test } from 'vitest';
import { metrics, metricsHandler } from '../src/index.ts';
import { sample, scrape } from './prometheus-text.ts';

describe('/metrics after scripted traffic', () => {
  const scope = new TestScope();
  afterEach(() => scope.close());

  test('connections by transport, broadcasts, deliveries, replays, rooms and members: exact counts', async () => {
    const registry = new Registry();
    const atmosphere = scope.track(
      await startTestAtmosphere({ providers: [metrics({ registry, broadcastTiming: 1 })] }),
    );
    atmosphere.handle('/metrics', metricsHandler(registry));
    const ready = new Inbox<string>();
    atmosphere.managed('/feed', { onReady: (resource) => ready.push(resource.id) });
    const feed = atmosphere.url('/feed');
    const clients = [
      await connectTestClient(feed, 'websocket'),
      await connectTestClient(feed, 'websocket'),
      await connectTestClient(feed, 'sse'),
      await connectTestClient(feed, 'long-polling'),
    ];
    for (const client of clients) scope.track(client);
    await ready.take(4);
    const broadcaster = atmosphere.broadcasters.get('/feed');
    for (const text of ['a', 'b', 'c']) await broadcaster.broadcast(text);
    for (const client of clients) expect(await client.messages.take(3)).toEqual(['a', 'b', 'c']);

    let text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_connections_total', 'transport="websocket"')).toBe(2);
    expect(sample(text, 'atmosphere_connections_total', 'transport="sse"')).toBe(1);
    expect(sample(text, 'atmosphere_connections_total', 'transport="long-polling"')).toBe(1);
    expect(sample(text, 'atmosphere_connections_active', 'transport="websocket"')).toBe(2);
    expect(sample(text, 'atmosphere_connections_active', 'transport="sse"')).toBe(1);
    expect(sample(text, 'atmosphere_broadcasters_active')).toBe(1);
    expect(sample(text, 'atmosphere_messages_broadcast_total')).toBe(3);
    expect(sample(text, 'atmosphere_messages_delivered_total')).toBe(12);
    expect(sample(text, 'atmosphere_broadcast_duration_seconds_count')).toBe(3);
    expect(sample(text, 'atmosphere_messages_replayed_total')).toBe(0);
    expect(sample(text, 'atmosphere_backplane_messages_total', 'direction="out"') ?? 0).toBe(0);

    // A client that reports what it received comes back having missed one message: exactly one replayed.
    const counting = scope.track(await connectTestClient(feed, 'websocket', { received: 0 }));
    await ready.next();
    await broadcaster.broadcast('d');
    await broadcaster.broadcast('e');
    expect(await counting.messages.take(2)).toEqual(['d', 'e']);
    counting.cut();
    await counting.ended;
    const back = scope.track(
      await connectTestClient(feed, 'websocket', { trackingId: counting.trackingId, received: 1 }),
    );
    expect(await back.messages.next()).toBe('e');
    text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_messages_replayed_total')).toBe(1);
    // The returning client is the same client: no new connection counted.
    expect(sample(text, 'atmosphere_connections_total', 'transport="websocket"')).toBe(3);

    // Rooms: two members in one room, one in another.
    const rooms = createRooms(atmosphere, { path: '/rooms' });
    scope.track(rooms);
    const joined = async (room: string): Promise<void> => {
      const client = scope.track(await connectTestClient(atmosphere.url('/rooms'), 'websocket'));
      await client.send(JSON.stringify({ type: 'join', room }));
      await client.messages.waitFor((frame) => frame.includes('"join_ack"'));
    };
    await joined('lobby');
    await joined('lobby');
    await joined('kitchen');
    text = await scrape(atmosphere.url('/metrics'));
    expect(sample(text, 'atmosphere_rooms_active')).toBe(2);
    expect(sample(text, 'atmosphere_room_members')).toBe(3);
  });

  test('the startup line says which metrics provider won, and the built-in one records nothing', async () => {
    const logger = recordingLogger();
    const plain = scope.track(await startTestAtmosphere({ logger }));
    expect(logger.lines.map((line) => line.message)).toContain('metrics: none selected (the only candidate)');
    expect(plain.provider('metrics')?.enabled).toBe(false);
    expect(plain.provider('tracing')?.enabled).toBe(false);

    const chosen = recordingLogger();
    scope.track(
      await startTestAtmosphere({ logger: chosen, providers: [metrics({ registry: new Registry() })] }),
    );
    expect(chosen.lines.map((line) => line.message)).toContain(
      'metrics: prometheus selected (highest priority of the available candidates (10)); none: outranked — outranked by prometheus (priority 10 vs 0)',
    );
  });

  test('the handler answers 405 to other methods and 403 when its check refuses', async () => {
    const registry = new Registry();
    const atmosphere = scope.track(await startTestAtmosphere({ providers: [metrics({ registry })] }));
    atmosphere.handle('/metrics', metricsHandler(registry));
    atmosphere.handle('/private-metrics', metricsHandler(registry, { authorize: () => false }));
    expect((await fetch(atmosphere.url('/metrics'), { method: 'POST' })).status).toBe(405);
    expect((await fetch(atmosphere.url('/private-metrics'))).status).toBe(403);
    const head = await fetch(atmosphere.url('/metrics'), { method: 'HEAD' });
    expect(head.status).toBe(200);
  });
});
