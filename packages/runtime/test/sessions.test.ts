import { once } from 'node:events';
import { protocolUrl } from '../src/testing/clients.ts';
import { WebSocket } from 'ws';
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
  const forged = ['A'.repeat(43), 'not a token!', 'x'.repeat(500)];

  test.each(forged)(
    'HTTP transports: a forged token (%#) gets 401 SESSION_INVALID; the server stays up',
    async (token) => {
      const url = protocolUrl(atmosphere.url('/chat'), 'sse', { query: { [TOKEN]: token } });
      const response = await fetch(url);
      expect(response.status).toBe(401);
      expect(response.headers.get('X-Atmosphere-error')).toMatch(/^SESSION_INVALID: /);
      await response.body?.cancel();
      const healthy = await connectTestClient(atmosphere.url('/chat'), 'sse');
      await healthy.send('still up');
      expect(await healthy.messages.next()).toBe('still up');
      await healthy.close();
    },
  );

  test('WebSocket: a forged token opens, then closes with 4401 SESSION_INVALID (a browser can read that)', async () => {
    const ws = new WebSocket(
      protocolUrl(atmosphere.url('/chat'), 'websocket', { query: { [TOKEN]: 'B'.repeat(43) } }),
    );
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(4401);
    expect(reason.toString()).toMatch(/^SESSION_INVALID: /);
  });

  test('an expired (deleted) token is refused like a forged one', async () => {
    const store = atmosphere.provider('session-store') as MemorySessionStore;
    const { token } = store.create();
    store.delete(token);
    const response = await fetch(
      protocolUrl(atmosphere.url('/chat'), 'long-polling', { query: { [TOKEN]: token } }),
    );
    expect(response.status).toBe(401);
    await response.body?.cancel();
  });

  test('a token replayed from another origin is refused: 403 / close 4403 SESSION_FOREIGN_ORIGIN', async () => {
    const first = await connectTestClient(atmosphere.url('/chat'), 'sse', {
      query: { [TOKEN]: '0' },
      headers: { origin: 'http://app.example' },
    });
    const { token } = sessionFrameOf(await first.messages.next());
    await first.close();
    const response = await fetch(protocolUrl(atmosphere.url('/chat'), 'sse', { query: { [TOKEN]: token } }), {
      headers: { origin: 'http://other.example' },
    });
    expect(response.status).toBe(403);
    expect(response.headers.get('X-Atmosphere-error')).toMatch(/^SESSION_FOREIGN_ORIGIN: /);
    await response.body?.cancel();
    const ws = new WebSocket(
      protocolUrl(atmosphere.url('/chat'), 'websocket', { query: { [TOKEN]: token } }),
      {
        headers: { origin: 'http://other.example' },
      },
    );
    const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
    expect(code).toBe(4403);
    expect(reason.toString()).toMatch(/^SESSION_FOREIGN_ORIGIN: /);
    const home = await connectTestClient(atmosphere.url('/chat'), 'websocket', {
      query: { [TOKEN]: token },
      headers: { origin: 'http://app.example' },
    });
    expect(sessionFrameOf(await home.messages.next()).status).toBe('resumed');
    await home.close();
  });
});
