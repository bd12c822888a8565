import { afterAll, beforeAll, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import { connectTestClient, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere();
});
afterAll(async () => {
  await atmosphere.close();
});

async function status(path: string): Promise<number> {
  const response = await fetch(protocolUrl(atmosphere.url(path), 'long-polling'));
  await response.text();
  return response.status;
}

test('a removed path answers 404 from then on, even right after serving it; a path added later is served', async () => {
  expect(await status('/later')).toBe(404);
  const service = atmosphere.managed('/later', {});
  expect(await status('/later')).toBe(200);
  expect(await status('/later')).toBe(200);
  service.remove();
  expect(await status('/later')).toBe(404);
  atmosphere.managed('/later', {});
  expect(await status('/later')).toBe(200);
});

test('template parameters follow the concrete path, encoded or not, for every client', async () => {
  atmosphere.managed('/room/{name}', {});
  const a = await connectTestClient(atmosphere.url('/room/blue'), 'websocket');
  const b = await connectTestClient(atmosphere.url('/room/blue'), 'sse');
  const c = await connectTestClient(atmosphere.url('/room/r%C3%A9d'), 'long-polling');
  expect(atmosphere.resource(a.trackingId)!.params).toEqual({ name: 'blue' });
  expect(atmosphere.resource(b.trackingId)!.params).toEqual({ name: 'blue' });
  expect(atmosphere.resource(c.trackingId)!.params).toEqual({ name: 'réd' });
  expect(atmosphere.resource(c.trackingId)!.path).toBe('/room/réd');
  expect(Object.isFrozen(atmosphere.resource(a.trackingId)!.params)).toBe(true);
  await Promise.all([a.close(), b.close(), c.close()]);
});
