import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  dropConnection,
  eventually,
  protocolUrl,
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

describe('a post with tracking id 0 (atmosphere.js posts before it read its handshake)', () => {
  function postZero(path: string, body: string): Promise<Response> {
    const url = new URL(atmosphere.url(path));
    url.searchParams.set('X-Atmosphere-tracking-id', '0');
    url.searchParams.set('X-Atmosphere-Framework', '5.0.7');
    url.searchParams.set('X-Atmosphere-Transport', 'sse');
    return fetch(url, { method: 'POST', body });
  }

  test.each(['sse', 'streaming'] as const)(
    'over %s it reaches the one stream that just got its handshake from the same client',
    async (transport) => {
      const path = `/echo-early/${transport}`;
      atmosphere.managed(
        path,
        { onMessage: (message, resource) => resource.write(`echo:${String(message)}`) },
        { codec: 'text' },
      );
      const client = await connectTestClient(atmosphere.url(path), transport, ATMOSPHERE_JS);
      const early = await postZero(path, 'join');
      expect([early.status, early.headers.get('X-Atmosphere-error')]).toEqual([200, null]);
      expect(await client.messages.next()).toBe('echo:join');
      // Once the client has posted with its own id, tracking id 0 is no longer its own.
      expect(await client.send('own')).toBe(200);
      expect(await client.messages.next()).toBe('echo:own');
      expect((await postZero(path, 'late')).status).toBe(404);
      await client.close();
    },
  );

  test('of two fresh streams from the same client the one without an early post gets it; two such: refused', async () => {
    const path = '/echo-early/two';
    atmosphere.managed(
      path,
      { onMessage: (message, resource) => resource.write(String(message)) },
      { codec: 'text' },
    );
    const first = await connectTestClient(atmosphere.url(path), 'sse', ATMOSPHERE_JS);
    const second = await connectTestClient(atmosphere.url(path), 'sse', ATMOSPHERE_JS);
    expect((await postZero(path, 'which?')).status).toBe(404);
    const third = await connectTestClient(atmosphere.url(path), 'sse', ATMOSPHERE_JS);
    expect(await third.send('mine')).toBe(200);
    expect(await third.messages.next()).toBe('mine');
    // first and second are still unbound and unclaimed: ambiguous. Once second claims its id, first is alone.
    expect(await second.send('own')).toBe(200);
    expect((await postZero(path, 'early')).status).toBe(200);
    expect(await first.messages.next()).toBe('early');
    // first got an early post; a new tab's early post goes to the new tab.
    const fourth = await connectTestClient(atmosphere.url(path), 'sse', ATMOSPHERE_JS);
    expect((await postZero(path, 'new tab')).status).toBe(200);
    expect(await fourth.messages.next()).toBe('new tab');
    await third.close();
    await fourth.close();
    await first.close();
    await second.close();
  });
});

describe('a WebSocket closed without a code (1005: what atmosphere.js 5 close() sends)', () => {
  async function open(path: string, trackingId = '0'): Promise<{ ws: WebSocket; id: string }> {
    const ws = new WebSocket(
      protocolUrl(atmosphere.url(path), 'websocket', { ...ATMOSPHERE_JS, trackingId }),
    );
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString()));
      ws.once('error', reject);
    });
    return { ws, id: trackingId === '0' ? first.split('|')[1]! : trackingId };
  }

  test('is a leave once the short grace ends with no reconnect; back in time, the session goes on', async () => {
    const path = `/again/r${++run}`;
    const reasons: string[] = [];
    const gone = open(path).then(async ({ ws, id }) => {
      atmosphere.resource(id)!.on('disconnect', (reason) => reasons.push(reason));
      const started = Date.now();
      ws.close();
      await eventually(() => atmosphere.resource(id)?.state === 'away');
      await eventually(() => reasons.length === 1, 'the disconnect', 10_000);
      return Date.now() - started;
    });
    const back = open(path).then(async ({ ws, id }) => {
      ws.close();
      await eventually(() => atmosphere.resource(id)?.state === 'away');
      const again = await open(path, id);
      return { again, id };
    });
    const [elapsed, { again, id }] = await Promise.all([gone, back]);
    expect(reasons).toEqual(['client-closed']);
    // Well before the reconnect grace (60 s), after the short one (5 s).
    expect(elapsed).toBeGreaterThanOrEqual(5_000);
    expect(elapsed).toBeLessThan(10_000);
    expect(atmosphere.resource(id)?.state).toBe('connected');
    again.ws.close(1000);
  }, 20_000);
});
