import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Atmosphere } from '../src/atmosphere.ts';
import { type MemorySessionStore } from '../src/session/memory-session-store.ts';
import { connectTestClient, startTestAtmosphere } from '../src/testing/index.ts';

const TOKEN = 'X-Atmosphere-Session-Token';
let atmosphere: Atmosphere;

beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ origins: ['http://app.example', 'http://other.example'] });
  atmosphere.managed('/chat', { onMessage: (message) => message }, { codec: 'text' });
});
afterAll(async () => {
  await atmosphere.close();
});

interface SessionFrame {
  type: string;
  token: string;
  status: string;
  expiresAt: number;
}

function sessionFrameOf(message: string): SessionFrame {
  const frame = JSON.parse(message) as SessionFrame;
  expect(frame.type).toBe('atmosphere-session');
  return frame;
}

describe.each(['websocket', 'sse', 'long-polling'] as const)('session token over %s', (transport) => {
  test('a client that asks for a session gets its token as the first message; coming back with it resumes it', async () => {
    const first = await connectTestClient(atmosphere.url('/chat'), transport, { query: { [TOKEN]: '0' } });
    const created = sessionFrameOf(await first.messages.next());
    expect(created.status).toBe('created');
    expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const store = atmosphere.provider('session-store') as MemorySessionStore;
    expect(store.get(created.token)).toMatchObject({
      subscriptions: [{ stream: '/chat' }],
      metadata: { trackingId: first.trackingId },
    });
    // Messages go on after it, as usual.
    await first.send('hello');
    expect(await first.messages.next()).toBe('hello');
    first.cut();
    const again = await connectTestClient(atmosphere.url('/chat'), transport, {
      query: { [TOKEN]: created.token },
    });
    const resumed = sessionFrameOf(await again.messages.next());
    expect(resumed).toMatchObject({ token: created.token, status: 'resumed' });
    expect(store.get(created.token)?.metadata).toEqual({ trackingId: again.trackingId });
    await again.close();
  });

  test('a client that asks for none gets no session frame', async () => {
    const client = await connectTestClient(atmosphere.url('/chat'), transport);
    await client.send('plain');
    expect(await client.messages.next()).toBe('plain');
    await client.close();
  });
});

describe('refused tokens', () => {
  const forged = ['A'.repeat(43), 'not a token!', 'x'.repeat(500), "'; DROP TABLE atmosphere_sessions; --"];

  test.each(['websocket', 'sse', 'long-polling'] as const)(
    '%s: a forged token is refused with SESSION_INVALID in the session frame; the client gets a new session',
    async (transport) => {
      for (const token of forged) {
        const client = await connectTestClient(atmosphere.url('/chat'), transport, {
          query: { [TOKEN]: token },
        });
        const frame = sessionFrameOf(await client.messages.next());
        expect(frame).toMatchObject({ status: 'created', refused: 'SESSION_INVALID' });
        expect(frame.token).not.toBe(token);
        await client.send('still served');
        expect(await client.messages.next()).toBe('still served');
        await client.close();
      }
    },
  );

  test('an expired (deleted) token is refused like a forged one', async () => {
    const store = atmosphere.provider('session-store') as MemorySessionStore;
    const { token } = store.create();
    store.delete(token);
    const client = await connectTestClient(atmosphere.url('/chat'), 'long-polling', {
      query: { [TOKEN]: token },
    });
    expect(sessionFrameOf(await client.messages.next())).toMatchObject({
      status: 'created',
      refused: 'SESSION_INVALID',
    });
    await client.close();
  });

  test('a token replayed from another origin is refused with SESSION_FOREIGN_ORIGIN; its origin resumes it', async () => {
    const first = await connectTestClient(atmosphere.url('/chat'), 'sse', {
      query: { [TOKEN]: '0' },
      headers: { origin: 'http://app.example' },
    });
    const { token } = sessionFrameOf(await first.messages.next());
    await first.close();
    for (const transport of ['websocket', 'sse'] as const) {
      const foreign = await connectTestClient(atmosphere.url('/chat'), transport, {
        query: { [TOKEN]: token },
        headers: { origin: 'http://other.example' },
      });
      const frame = sessionFrameOf(await foreign.messages.next());
      expect(frame).toMatchObject({ status: 'created', refused: 'SESSION_FOREIGN_ORIGIN' });
      expect(frame.token).not.toBe(token);
      await foreign.close();
    }
    const home = await connectTestClient(atmosphere.url('/chat'), 'websocket', {
      query: { [TOKEN]: token },
      headers: { origin: 'http://app.example' },
    });
    expect(sessionFrameOf(await home.messages.next())).toMatchObject({ token, status: 'resumed' });
    await home.close();
  });
});
