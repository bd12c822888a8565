import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import { connectTestClient, startTestAtmosphere, type TestClient } from '../src/testing/index.ts';

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
