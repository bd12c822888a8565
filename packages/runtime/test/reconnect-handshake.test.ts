import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  dropConnection,
  eventually,
  startTestAtmosphere,
  type TestClientOptions,
  type TestTransport,
} from '../src/testing/index.ts';

/*
 * atmosphere.js 5 resets its protocol state on every reconnect and takes the first thing it reads for the
 * handshake; wAsync (which announces 2.x) and our client (which sends X-Atmosphere-Received) read it once.
 * The test clients parse the handshake only on a first connection, so a second handshake shows up here as a
 * message: exactly what atmosphere.js needs and what the others must not get.
 */

const ATMOSPHERE_JS: TestClientOptions = { query: { 'X-Atmosphere-Framework': '5.0.7' } };
const STREAMS: TestTransport[] = ['websocket', 'sse', 'streaming'];

let atmosphere: Atmosphere;
let run = 0;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ rateLimit: false });
  atmosphere.managed('/again/{run}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

/** Server sessions (resources) of a channel: one per client when nothing churns. */
function sessionsOn(channel: string): number {
  let count = 0;
  for (const resource of atmosphere.resources()) if (resource.path === channel) count++;
  return count;
}

async function cutAndMiss(
  transport: TestTransport,
  options: TestClientOptions,
): Promise<{ channel: string; trackingId: string }> {
  const channel = `/again/r${++run}`;
  const first = await connectTestClient(atmosphere.url(channel), transport, options);
  await eventually(() => atmosphere.resource(first.trackingId)?.state === 'connected');
  first.cut();
  await eventually(() => atmosphere.resource(first.trackingId)?.state === 'away');
  await atmosphere.broadcast(channel, 'a');
  await atmosphere.broadcast(channel, 'b');
  return { channel, trackingId: first.trackingId };
}

describe.each(STREAMS)('%s', (transport) => {
  test('an atmosphere.js 5 client reads the handshake (same id) first after a reconnect, then what it missed', async () => {
    const { channel, trackingId } = await cutAndMiss(transport, ATMOSPHERE_JS);
    const second = await connectTestClient(atmosphere.url(channel), transport, {
      ...ATMOSPHERE_JS,
      trackingId,
    });
    await second.messages.waitForCount(3);
    expect(second.messages.items).toEqual([`${trackingId}|0|X|`, 'a', 'b']);
    expect(sessionsOn(channel)).toBe(1);
    await second.close();
  });

  test('a wAsync-style client and a counting client get no second handshake', async () => {
    for (const options of [{}, { ...ATMOSPHERE_JS, received: 0 }] as TestClientOptions[]) {
      const { channel, trackingId } = await cutAndMiss(transport, options);
      const second = await connectTestClient(atmosphere.url(channel), transport, { ...options, trackingId });
      await second.messages.waitForCount(2);
      expect(second.messages.items).toEqual(['a', 'b']);
      await second.close();
    }
  });
});

describe('long-polling', () => {
  test('after a lost poll an atmosphere.js 5 client gets the handshake alone, then what it missed', async () => {
    const { channel, trackingId } = await cutAndMiss('long-polling', ATMOSPHERE_JS);
    const second = await connectTestClient(atmosphere.url(channel), 'long-polling', {
      ...ATMOSPHERE_JS,
      trackingId,
    });
    await second.messages.waitForCount(3);
    expect(second.messages.items).toEqual([`${trackingId}|0|X|`, 'a', 'b']);
    // The polls that follow are ordinary: no handshake again, one session.
    await atmosphere.broadcast(channel, 'c');
    await second.messages.waitForCount(4);
    expect(second.messages.items[3]).toBe('c');
    expect(sessionsOn(channel)).toBe(1);
    await second.close();
  });

  test('a poll the server completed (no cut) is followed by ordinary polls: no handshake', async () => {
    const channel = `/again/r${++run}`;
    const client = await connectTestClient(atmosphere.url(channel), 'long-polling', ATMOSPHERE_JS);
    await eventually(() => atmosphere.resource(client.trackingId)?.state === 'connected');
    expect(dropConnection(atmosphere.resource(client.trackingId))).toBe(true);
    await atmosphere.broadcast(channel, 'a');
    await client.messages.waitForCount(1);
    expect(client.messages.items).toEqual(['a']);
    await client.close();
  });

  test('a wAsync-style client gets no handshake after a lost poll', async () => {
    const { channel, trackingId } = await cutAndMiss('long-polling', {});
    const second = await connectTestClient(atmosphere.url(channel), 'long-polling', { trackingId });
    await second.messages.waitForCount(2);
    expect(second.messages.items).toEqual(['a', 'b']);
    await second.close();
  });
});
