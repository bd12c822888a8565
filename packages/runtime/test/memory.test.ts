import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import { connectTestClient, eventually, startTestAtmosphere, type TestClient } from '../src/testing/index.ts';
import { internal } from './internals.ts';

// A collection on demand, without starting the test process with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Collects until every reference is gone or `rounds` collections (each on a later turn) have run. */
async function collected(refs: readonly WeakRef<object>[], rounds = 10): Promise<boolean> {
  for (let i = 0; i < rounds; i++) {
    // WeakRef targets stay alive until the current job ends: collect on a later turn.
    await new Promise((resolve) => setImmediate(resolve));
    gc();
    if (refs.every((ref) => ref.deref() === undefined)) return true;
  }
  return false;
}

const upgrades: WeakRef<object>[] = [];
const contexts: WeakRef<object>[] = [];
let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    rateLimit: false,
    interceptors: [
      {
        name: 'spy',
        onConnect(context) {
          upgrades.push(new WeakRef(context.raw));
          contexts.push(new WeakRef(context));
        },
      },
    ],
  });
  atmosphere.managed('/memory', { onMessage: (message) => message }, { codec: 'text' });
});
afterAll(async () => {
  await atmosphere.close();
});

test('an open WebSocket keeps neither its upgrade request nor its connect context', async () => {
  const clients: TestClient[] = [];
  for (let i = 0; i < 3; i++) clients.push(await connectTestClient(atmosphere.url('/memory'), 'websocket'));
  expect(upgrades).toHaveLength(3);
  // The connections work: a message goes in, its broadcast comes out to all.
  await clients[0]!.send('hello');
  for (const client of clients) expect(await client.messages.next()).toBe('hello');
  expect(await collected([...upgrades, ...contexts])).toBe(true);
  // Still connected and working after the collection.
  await atmosphere.broadcast('/memory', 'after');
  for (const client of clients) expect(await client.messages.next()).toBe('after');
  for (const client of clients) await client.close();
});

test('a WebSocket resource keeps the application headers of its upgrade, not the handshake ones', async () => {
  const client = await connectTestClient(atmosphere.url('/memory'), 'websocket', {
    headers: { 'x-team': 'blue', 'user-agent': 'memory-test' },
  });
  const resource = [...atmosphere.resources()].find((r) => r.request.headers['x-team'] === 'blue');
  expect(resource, 'the resource of the connection').toBeDefined();
  const headers = resource!.request.headers;
  expect(headers['user-agent']).toBe('memory-test');
  expect(headers.host).toBe(new URL(atmosphere.url('/memory')).host);
  for (const handshake of ['sec-websocket-key', 'sec-websocket-version', 'upgrade', 'connection'])
    expect(headers[handshake], handshake).toBeUndefined();
  // The protocol parameters still read as sent.
  expect(resource!.request.transport).toBe('websocket');
  expect(resource!.request.trackMessageLength).toBe(true);
  await client.close();
});

test('an idle connection holds no queue arrays; a counting client gets its unconfirmed queue while it needs one', async () => {
  const quiet = await connectTestClient(atmosphere.url('/memory'), 'websocket');
  const counting = await connectTestClient(atmosphere.url('/memory'), 'websocket', { received: 0 });
  const quietQueue = internal(atmosphere.resource(quiet.trackingId))!.queue;
  const countingResource = internal(atmosphere.resource(counting.trackingId))!;
  const countingQueue = countingResource.queue;
  // Connected and idle: both queues are the shared empty one, with nothing allocated.
  for (const queue of [quietQueue, countingQueue]) {
    expect(queue.pending.length).toBe(0);
    expect(queue.unconfirmed.length).toBe(0);
    expect(queue.pending).toBe(queue.unconfirmed);
  }
  await atmosphere.broadcast('/memory', 'one');
  await atmosphere.broadcast('/memory', 'two');
  for (const client of [quiet, counting]) expect(await client.messages.take(2)).toEqual(['one', 'two']);
  // Written counts as delivered for the client that does not report counts: nothing kept.
  expect(quietQueue.unconfirmed.length).toBe(0);
  // The counting client's messages wait for its confirmation, in a queue of its own.
  expect([...countingQueue.unconfirmed].map((m) => m.text)).toEqual(['one', 'two']);
  expect(countingQueue.unconfirmed).not.toBe(quietQueue.unconfirmed);
  // It comes back (cut, no close frame) having received one: the other is written again, exactly once.
  counting.cut();
  await eventually(() => countingResource.state === 'away', 'the counting client away');
  const back = await connectTestClient(atmosphere.url('/memory'), 'websocket', {
    trackingId: counting.trackingId,
    received: 1,
  });
  expect(await back.messages.next()).toBe('two');
  await eventually(() => countingResource.state === 'connected', 'the counting client back');
  // Confirmed (the delivery probe's pong, or the next reconnect): the queue goes once empty.
  countingQueue.confirm(countingQueue.writtenSeq);
  expect(countingQueue.unconfirmed.length).toBe(0);
  expect(countingQueue.unconfirmed).toBe(quietQueue.pending);
  for (const client of [quiet, back]) await client.close();
});

test('connections with the same settings share one frozen settings object; an interceptor that changes them gets its own', async () => {
  const server = await startTestAtmosphere({
    rateLimit: false,
    interceptors: [
      {
        name: 'slow-lane',
        onConnect(context) {
          if (context.request.query.get('lane') === 'slow') context.settings.highWaterMark = 10;
        },
      },
    ],
  });
  try {
    server.managed('/settings', {});
    const clients = await Promise.all(
      ['fast', 'fast', 'slow', 'slow'].map((lane) =>
        connectTestClient(`${server.url('/settings')}?lane=${lane}`, 'websocket'),
      ),
    );
    const [a, b, c, d] = clients.map((client) => server.resource(client.trackingId)!.settings);
    expect(a).toBe(b);
    expect(c).toBe(d);
    expect(a).not.toBe(c);
    expect(a!.highWaterMark).toBe(1000);
    expect(c!.highWaterMark).toBe(10);
    expect(Object.isFrozen(a)).toBe(true);
    for (const client of clients) await client.close();
  } finally {
    await server.close();
  }
});
