import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import { connectTestClient, eventually, startTestAtmosphere } from '../src/testing/index.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere();
  atmosphere.managed('/res/{name}', {});
  atmosphere.managed('/unsubscribed', {}, { subscribe: false });
});
afterAll(async () => {
  await atmosphere.close();
});

test('attributes: one map per resource, kept across reads', async () => {
  const client = await connectTestClient(atmosphere.url('/res/attributes'), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  resource.attributes.set('user', 'ada');
  expect(resource.attributes).toBe(resource.attributes);
  expect(resource.attributes.get('user')).toBe('ada');
  await client.close();
});

test('subscriptions: the path broadcaster, then more, each one delivering; close leaves them all', async () => {
  const client = await connectTestClient(atmosphere.url('/res/subs'), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  const path = atmosphere.broadcasters.get('/res/subs');
  expect([...resource.subscriptions]).toEqual([path]);

  const second = atmosphere.broadcasters.get('/topic/second');
  const third = atmosphere.broadcasters.get('/topic/third');
  second.addResource(resource);
  second.addResource(resource);
  third.addResource(resource);
  expect(new Set(resource.subscriptions)).toEqual(new Set([path, second, third]));
  await path.broadcast('p');
  await second.broadcast('s');
  await third.broadcast('t');
  expect(await client.messages.take(3)).toEqual(['p', 's', 't']);

  second.removeResource(resource);
  expect(new Set(resource.subscriptions)).toEqual(new Set([path, third]));
  await second.broadcast('not for it');
  await third.broadcast('t2');
  expect(await client.messages.next()).toBe('t2');

  await client.close();
  await eventually(() => resource.state === 'closed', 'the resource to close');
  expect(resource.subscriptions.size).toBe(0);
  expect(third.has(resource)).toBe(false);
  expect(path.destroyed || !path.has(resource)).toBe(true);
});

test('subscriptions: a resource of a path served without subscribing has none until it joins one', async () => {
  const client = await connectTestClient(atmosphere.url('/unsubscribed'), 'websocket');
  const resource = atmosphere.resource(client.trackingId)!;
  expect(resource.subscriptions.size).toBe(0);
  const topic = atmosphere.broadcasters.get('/topic/joined');
  topic.addResource(resource);
  expect([...resource.subscriptions]).toEqual([topic]);
  topic.removeResource(resource);
  expect(resource.subscriptions.size).toBe(0);
  await client.close();
});
