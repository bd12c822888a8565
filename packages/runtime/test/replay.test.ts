import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  startTestAtmosphere,
  type TestTransport,
} from '../src/testing/index.ts';

const TRANSPORTS: TestTransport[] = ['websocket', 'sse', 'streaming', 'long-polling'];
const TOTAL = 120;

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ rateLimit: false });
  atmosphere.managed('/replay/{run}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

/** Broadcasts `total` numbered messages, a few per turn of the event loop, until done. */
async function broadcastAll(channel: string, total: number, perTurn: number): Promise<void> {
  for (let i = 1; i <= total; i++) {
    await atmosphere.broadcast(channel, `m${i}`);
    if (i % perTurn === 0) await new Promise((resolve) => setImmediate(resolve));
  }
}

function expected(total: number): string[] {
  return Array.from({ length: total }, (_, i) => `m${i + 1}`);
}

let run = 0;

describe.each(TRANSPORTS)('replay over %s', (transport) => {
  test('a client cut at a random point mid-broadcast reconnects with the same tracking id: exact order, 0 lost, 0 duplicated', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: TOTAL - 1 }),
        fc.integer({ min: 1, max: 8 }),
        async (cutAfter, perTurn) => {
          const channel = `/replay/r${++run}`;
          const base = atmosphere.url(channel);
          // A counting client (as @atmosphere/client is) reports its count from its first connection on.
          const first = await connectTestClient(base, transport, { received: 0 });
          const trackingId = first.trackingId;
          const broadcasting = broadcastAll(channel, TOTAL, perTurn);
          if (cutAfter > 0) await first.messages.waitForCount(cutAfter);
          first.cut();
          const before = [...first.messages.items];
          // The client knows exactly what it got; the server resends the rest, then live traffic follows.
          const second = await connectTestClient(base, transport, { trackingId, received: before.length });
          await broadcasting;
          await second.messages.waitForCount(TOTAL - before.length);
          const all = [...before, ...second.messages.items];
          expect(all).toEqual(expected(TOTAL));
          await second.close();
        },
      ),
      { numRuns: 6 },
    );
  });

  test('while the client is away, messages queue; on reconnect they come first, in order, once', async () => {
    const channel = `/replay/away${++run}`;
    const base = atmosphere.url(channel);
    const first = await connectTestClient(base, transport, { received: 0 });
    await atmosphere.broadcast(channel, 'm1');
    await first.messages.waitForCount(1);
    first.cut();
    await eventually(
      () => atmosphere.resource(first.trackingId)?.state === 'away',
      'the resource to be away',
    );
    for (let i = 2; i <= 50; i++) await atmosphere.broadcast(channel, `m${i}`);
    const second = await connectTestClient(base, transport, { trackingId: first.trackingId, received: 1 });
    await atmosphere.broadcast(channel, 'm51');
    await second.messages.waitForCount(50);
    expect([...first.messages.items, ...second.messages.items]).toEqual(expected(51));
    await second.close();
  });
});

test('a client that does not report its count gets no duplicates: written counts as delivered', async () => {
  const channel = `/replay/classic${++run}`;
  const base = atmosphere.url(channel);
  const first = await connectTestClient(base, 'websocket');
  for (let i = 1; i <= 20; i++) await atmosphere.broadcast(channel, `m${i}`);
  await first.messages.waitForCount(20);
  first.cut();
  await eventually(() => atmosphere.resource(first.trackingId)?.state === 'away', 'the resource to be away');
  for (let i = 21; i <= 30; i++) await atmosphere.broadcast(channel, `m${i}`);
  const second = await connectTestClient(base, 'websocket', { trackingId: first.trackingId });
  await second.messages.waitForCount(10);
  expect(second.messages.items).toEqual(expected(30).slice(20));
  await second.close();
});

test('a reconnect after the grace period is a new client: disconnect fired, nothing replayed', async () => {
  const short = await startTestAtmosphere({ reconnectGraceMs: 100 });
  try {
    const reasons: string[] = [];
    short.managed('/g', { onDisconnect: (_resource, reason) => void reasons.push(reason) });
    const first = await connectTestClient(short.url('/g'), 'websocket');
    first.cut();
    await eventually(() => reasons.length === 1, 'the grace period to end');
    expect(reasons).toEqual(['timeout']);
    await short.broadcast('/g', 'lost');
    const second = await connectTestClient(short.url('/g'), 'websocket', {
      trackingId: first.trackingId,
      received: 0,
    });
    await short.broadcast('/g', 'live');
    expect(await second.messages.next()).toBe('live');
    await second.close();
  } finally {
    await short.close();
  }
});
