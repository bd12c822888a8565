import { afterEach, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  startTestAtmosphere,
  type TestTransport,
} from '../src/testing/index.ts';

const TRANSPORTS: TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

describe.each(TRANSPORTS)('%s', (transport) => {
  test('handshake, then onReady writes, broadcasts and echoes arrive in order', async () => {
    atmosphere = await startTestAtmosphere();
    const ready: string[] = [];
    atmosphere.managed<{ text: string }>('/chat/{room}', {
      onReady(resource, { params }) {
        ready.push(resource.id);
        resource.write({ welcome: params['room'] });
      },
      onMessage(message) {
        return { echo: message.text };
      },
    });
    const client = await connectTestClient(atmosphere.url('/chat/lobby'), transport);
    expect(client.trackingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(await client.messages.next()).toBe('{"welcome":"lobby"}');
    expect(ready).toEqual([client.trackingId]);
    await atmosphere.broadcast('/chat/lobby', { n: 1 });
    expect(await client.messages.next()).toBe('{"n":1}');
    expect(await client.send(JSON.stringify({ text: 'hi' }))).toBe(200);
    expect(await client.messages.next()).toBe('{"echo":"hi"}');
    await client.close();
  });

  test('the explicit close fires onDisconnect once, with client-closed', async () => {
    atmosphere = await startTestAtmosphere();
    const reasons: string[] = [];
    atmosphere.managed('/c', { onDisconnect: (_r, reason) => void reasons.push(reason) });
    const client = await connectTestClient(atmosphere.url('/c'), transport);
    await client.close();
    await eventually(() => reasons.length > 0, 'onDisconnect');
    expect(reasons).toEqual(['client-closed']);
    expect(atmosphere.resource(client.trackingId)).toBeUndefined();
  });

  test('heartbeats arrive after the configured silence and are not messages', async () => {
    atmosphere = await startTestAtmosphere({ heartbeat: { intervalMs: 150 } });
    atmosphere.managed('/h', {});
    const client = await connectTestClient(atmosphere.url('/h'), transport);
    const first = await client.heartbeats.next(3_000);
    const second = await client.heartbeats.next(3_000);
    expect(second - first).toBeGreaterThanOrEqual(100);
    expect(client.messages.items).toEqual([]);
    await client.close();
  });
});
