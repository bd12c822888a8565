import { afterEach, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Atmosphere, AtmosphereResource, DisconnectReason } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  once,
  protocolUrl,
  startTestAtmosphere,
} from '../src/testing/index.ts';

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

test('the client heartbeat reaches onHeartbeat, never onMessage; the handshake advertises its interval', async () => {
  atmosphere = await startTestAtmosphere({ heartbeat: { clientIntervalMs: 5_000 } });
  const heartbeats: string[] = [];
  const messages: unknown[] = [];
  atmosphere.managed('/hb', {
    onHeartbeat: (resource) => void heartbeats.push(resource.id),
    onMessage: (message) => void messages.push(message),
  });
  const client = await connectTestClient(atmosphere.url('/hb'), 'websocket');
  expect(client.clientHeartbeatMs).toBe(5_000);
  await client.send('X');
  await client.send('{"real":true}');
  await eventually(() => messages.length === 1, 'the real message');
  expect(heartbeats).toEqual([client.trackingId]);
  expect(messages).toEqual([{ real: true }]);
  await client.close();
});

test('a frame starting @@/sub/path@@ is dispatched to that managed path', async () => {
  atmosphere = await startTestAtmosphere();
  const main: unknown[] = [];
  const sub: unknown[] = [];
  atmosphere.managed('/main', { onMessage: (m) => void main.push(m) });
  atmosphere.managed('/main/sub/{id}', { onMessage: (m) => void sub.push(m) }, { subscribe: false });
  const client = await connectTestClient(atmosphere.url('/main'), 'websocket');
  await client.send('@@/main/sub/7@@{"to":"sub"}');
  await client.send('{"to":"main"}');
  await eventually(() => main.length === 1 && sub.length === 1, 'both handlers');
  expect(sub).toEqual([{ to: 'sub' }]);
  expect(main).toEqual([{ to: 'main' }]);
  await client.close();
});

test('onReady runs once per client on long-polling, not once per poll', async () => {
  atmosphere = await startTestAtmosphere();
  const ready: string[] = [];
  atmosphere.managed('/lp', { onReady: (resource) => void ready.push(resource.id) });
  const client = await connectTestClient(atmosphere.url('/lp'), 'long-polling');
  for (let i = 0; i < 5; i++) {
    await atmosphere.broadcast('/lp', `m${i}`);
    await client.messages.waitForCount(i + 1);
  }
  expect(ready).toEqual([client.trackingId]);
  await client.close();
});

test('a newer connection with the same tracking id replaces the stale one; nothing is delivered twice', async () => {
  atmosphere = await startTestAtmosphere();
  const reconnects: string[] = [];
  atmosphere.managed('/r', {
    onReady: (resource: AtmosphereResource) =>
      void resource.on('reconnect', () => reconnects.push(resource.id)),
  });
  const first = await connectTestClient(atmosphere.url('/r'), 'websocket');
  await atmosphere.broadcast('/r', 'one');
  await first.messages.waitForCount(1);
  const second = await connectTestClient(atmosphere.url('/r'), 'sse', {
    trackingId: first.trackingId,
    received: 1,
  });
  await first.ended;
  await atmosphere.broadcast('/r', 'two');
  expect(await second.messages.next()).toBe('two');
  expect(first.messages.items).toEqual(['one']);
  expect(atmosphere.resource(first.trackingId)!.transport).toBe('sse');
  await second.close();
});

test('a lost connection makes the resource away (event) and a reconnect emits reconnect; no disconnect in between', async () => {
  atmosphere = await startTestAtmosphere();
  const events: string[] = [];
  atmosphere.managed('/events', {
    onReady(resource) {
      resource.on('away', () => events.push('away')).on('reconnect', () => events.push('reconnect'));
    },
    onDisconnect: (_r, reason: DisconnectReason) => void events.push(`disconnect:${reason}`),
  });
  const first = await connectTestClient(atmosphere.url('/events'), 'websocket');
  first.cut();
  await eventually(() => events.includes('away'), 'away');
  const second = await connectTestClient(atmosphere.url('/events'), 'websocket', {
    trackingId: first.trackingId,
  });
  await eventually(() => events.includes('reconnect'), 'reconnect');
  await second.close();
  await eventually(() => events.length === 3, 'disconnect');
  expect(events).toEqual(['away', 'reconnect', 'disconnect:client-closed']);
});

test('the idle timeout closes a connection with no inbound activity', async () => {
  atmosphere = await startTestAtmosphere({ idleTimeoutMs: 200 });
  const reasons: DisconnectReason[] = [];
  atmosphere.managed('/idle', { onDisconnect: (_r, reason) => void reasons.push(reason) });
  const ws = new WebSocket(protocolUrl(atmosphere.url('/idle'), 'websocket'));
  const code = await once<number>(ws, 'close');
  expect(code).toBe(1001);
  expect(reasons).toEqual(['idle']);
});

test('the close request is idempotent and unknown ids are harmless', async () => {
  atmosphere = await startTestAtmosphere();
  const reasons: DisconnectReason[] = [];
  atmosphere.managed('/close', { onDisconnect: (_r, reason) => void reasons.push(reason) });
  const client = await connectTestClient(atmosphere.url('/close'), 'sse');
  const url = `${atmosphere.url('/close')}?X-Atmosphere-Transport=close&X-Atmosphere-tracking-id=${client.trackingId}`;
  expect((await fetch(url)).status).toBe(200);
  expect((await fetch(url, { method: 'POST' })).status).toBe(200);
  expect(
    (await fetch(`${atmosphere.url('/close')}?X-Atmosphere-Transport=close&X-Atmosphere-tracking-id=nobody`))
      .status,
  ).toBe(200);
  expect(reasons).toEqual(['client-closed']);
  await client.ended;
});

test('a path served without subscription leaves no broadcaster behind; POST errors reach onError too', async () => {
  atmosphere = await startTestAtmosphere();
  const errors: string[] = [];
  atmosphere.managed(
    '/nosub/{id}',
    { onMessage: () => undefined, onError: (error) => void errors.push(error.code) },
    { subscribe: false },
  );
  const client = await connectTestClient(atmosphere.url('/nosub/a'), 'long-polling');
  expect(await client.send('not json')).toBe(400);
  expect(errors).toEqual(['INVALID_JSON']);
  expect(await client.send('{"ok":true}')).toBe(200);
  await client.close();
  expect(atmosphere.broadcasters.find('/nosub/a')).toBeUndefined();
  expect(atmosphere.reconnectGraceMs).toBe(60_000);
});

test('binary messages: a binary frame on WebSocket, framed base64 text on text transports', async () => {
  atmosphere = await startTestAtmosphere();
  atmosphere.managed('/bin', {
    onReady(resource) {
      resource.write(new Uint8Array([104, 105, 0, 255]));
      resource.write('after');
    },
  });
  const ws = await connectTestClient(atmosphere.url('/bin'), 'websocket');
  expect(await ws.messages.take(2)).toEqual(['<binary 4>', 'after']);
  for (const transport of ['sse', 'streaming', 'long-polling'] as const) {
    const client = await connectTestClient(atmosphere.url('/bin'), transport);
    expect(await client.messages.take(2)).toEqual([
      Buffer.from([104, 105, 0, 255]).toString('base64'),
      'after',
    ]);
    await client.close();
  }
  await ws.close();
});

test('a WebSocket closed with 4000 is coming back: the resource waits, no disconnect', async () => {
  atmosphere = await startTestAtmosphere();
  const reasons: DisconnectReason[] = [];
  atmosphere.managed('/suspend', { onDisconnect: (_r, reason) => void reasons.push(reason) });
  const ws = new WebSocket(protocolUrl(atmosphere.url('/suspend'), 'websocket'));
  const handshake = await once<Buffer>(ws, 'message');
  const id = handshake.toString().split('|')[1]!;
  ws.close(4000, 'back soon');
  await eventually(() => atmosphere!.resource(id)?.state === 'away', 'the resource to be away');
  await atmosphere.broadcast('/suspend', 'while away');
  const back = await connectTestClient(atmosphere.url('/suspend'), 'websocket', {
    trackingId: id,
    received: 0,
  });
  expect(await back.messages.next()).toBe('while away');
  expect(reasons).toEqual([]);
  await back.close();
});
