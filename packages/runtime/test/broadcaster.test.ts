import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import type { BroadcastFilter, OutboundMessage } from '../src/spi/index.ts';
import { connectTestClient, startTestAtmosphere } from '../src/testing/index.ts';

const outbound: OutboundMessage[] = [];
let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    interceptors: [
      {
        name: 'spy',
        onOutbound(message) {
          outbound.push(message);
          return message;
        },
      },
    ],
  });
  atmosphere.managed('/b/{name}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

let n = 0;
async function channel(clients = 1) {
  const id = `/b/c${++n}`;
  const connected = [];
  for (let i = 0; i < clients; i++) connected.push(await connectTestClient(atmosphere.url(id), 'websocket'));
  return { id, broadcaster: atmosphere.broadcasters.get(id), clients: connected };
}

describe('Broadcaster', () => {
  test('a broadcast is serialised once and the same message reaches every subscriber', async () => {
    const { id, clients } = await channel(3);
    outbound.length = 0;
    await atmosphere.broadcast(id, { hello: 'all' });
    for (const client of clients) expect(await client.messages.next()).toBe('{"hello":"all"}');
    expect(outbound).toHaveLength(3);
    expect(new Set(outbound).size).toBe(1);
  });

  test('to one resource, to a set, and to everyone but the sender', async () => {
    const { broadcaster, clients } = await channel(3);
    const [a, b, c] = clients as [(typeof clients)[0], (typeof clients)[0], (typeof clients)[0]];
    await broadcaster.broadcast('only-a', { to: a.trackingId });
    await broadcaster.broadcast('a-and-c', { to: [a.trackingId, c.trackingId] });
    await broadcaster.broadcast('not-b', { exclude: b.trackingId });
    await broadcaster.broadcast('end');
    expect(await a.messages.take(4)).toEqual(['only-a', 'a-and-c', 'not-b', 'end']);
    expect(await b.messages.take(1)).toEqual(['end']);
    expect(await c.messages.take(3)).toEqual(['a-and-c', 'not-b', 'end']);
  });

  test('to a resource object: the same as by its id, with filters and order kept', async () => {
    const { broadcaster, clients } = await channel(2);
    const [a, b] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const resource = atmosphere.resource(a.trackingId)!;
    outbound.length = 0;
    await broadcaster.broadcast('direct', { to: resource });
    expect(outbound.map((m) => m.payload)).toEqual(['direct']);
    // A filter (here asynchronous) applies, and a later message never overtakes the one it holds.
    broadcaster.addFilter({
      name: 'slow-first',
      filter: (p) => (p === 'slow' ? new Promise((resolve) => setTimeout(() => resolve('SLOW'), 10)) : p),
    });
    const slow = broadcaster.broadcast('slow', { to: resource });
    await broadcaster.broadcast('fast', { to: resource });
    await slow;
    expect(await a.messages.take(3)).toEqual(['direct', 'SLOW', 'fast']);
    await broadcaster.broadcast('b only', { to: atmosphere.resource(b.trackingId)! });
    expect(await b.messages.take(1)).toEqual(['b only']);
  });

  test('to a closed resource object: nothing is delivered, nothing fails', async () => {
    const { broadcaster, clients } = await channel(2);
    const [a, b] = clients as [(typeof clients)[0], (typeof clients)[0]];
    const resource = atmosphere.resource(a.trackingId)!;
    await resource.close();
    outbound.length = 0;
    await broadcaster.broadcast('late', { to: resource });
    await broadcaster.broadcast('to b', { to: b.trackingId });
    expect(await b.messages.take(1)).toEqual(['to b']);
    expect(outbound.map((m) => m.payload)).toEqual(['to b']);
  });

  test('filters transform, abort, skip the rest, and hold then release', async () => {
    const { broadcaster, clients } = await channel(1);
    const held: string[] = [];
    let release: ((payload: string) => void) | undefined;
    const upper: BroadcastFilter = {
      name: 'upper',
      filter: (p) => (typeof p === 'string' ? p.toUpperCase() : p),
    };
    const censor: BroadcastFilter = {
      name: 'censor',
      filter: (p, context) => {
        if (p === 'SECRET') return null;
        if (p === 'VIP') return { action: 'skip', payload: 'vip!' };
        if (p === 'HOLD') {
          held.push(p);
          release = (payload) => context.release(payload);
          return { action: 'hold' };
        }
        return p;
      },
    };
    const suffix: BroadcastFilter = { name: 'suffix', filter: (p) => `${String(p)}.` };
    broadcaster.addFilter(upper).addFilter(censor).addFilter(suffix);
    await broadcaster.broadcast('hello');
    await broadcaster.broadcast('secret');
    await broadcaster.broadcast('vip');
    await broadcaster.broadcast('hold');
    await broadcaster.broadcast('after');
    release!('released');
    const client = clients[0]!;
    expect(await client.messages.take(4)).toEqual(['HELLO.', 'vip!', 'AFTER.', 'released.']);
    expect(held).toEqual(['HOLD']);
  });

  test('an async filter never lets a later message overtake', async () => {
    const { broadcaster, clients } = await channel(1);
    broadcaster.addFilter({
      name: 'slow-for-odd',
      filter: (p) => {
        const value = Number(p);
        return value % 2 === 1 ? new Promise((resolve) => setTimeout(() => resolve(p), 20 - value)) : p;
      },
    });
    await Promise.all(Array.from({ length: 10 }, (_, i) => broadcaster.broadcast(String(i))));
    expect(await clients[0]!.messages.take(10)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
  });

  test('a throwing filter fails the broadcast with FILTER_FAILED and delivers nothing (fail closed)', async () => {
    const { broadcaster, clients } = await channel(1);
    broadcaster.addFilter({
      name: 'redactor',
      filter: (p) => {
        if (p === 'boom') throw new Error('redactor crashed');
        return p;
      },
    });
    await expect(broadcaster.broadcast('boom')).rejects.toMatchObject({ code: 'FILTER_FAILED' });
    await broadcaster.broadcast('fine');
    expect(await clients[0]!.messages.next()).toBe('fine');
  });

  test('a path-template broadcaster is destroyed when its last resource leaves; an explicit one is not', async () => {
    const { id, clients } = await channel(1);
    const explicit = atmosphere.broadcasters.get('/explicit');
    await clients[0]!.close();
    await expect.poll(() => atmosphere.broadcasters.find(id)).toBeUndefined();
    expect(atmosphere.broadcasters.find('/explicit')).toBe(explicit);
    explicit.destroy();
    await expect(explicit.broadcast('x')).rejects.toMatchObject({ code: 'CLOSED' });
  });

  test('messages a client could never see (the padding char, whitespace) are not sent', async () => {
    const { id, clients } = await channel(1);
    await atmosphere.broadcast(id, 'X');
    await atmosphere.broadcast(id, '   ');
    await atmosphere.broadcast(id, 'visible');
    expect(await clients[0]!.messages.next()).toBe('visible');
  });
});
