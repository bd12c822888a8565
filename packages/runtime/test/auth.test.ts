import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import { type Atmosphere, AtmosphereError } from '../src/index.ts';
import { connectTestClient, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

let atmosphere: Atmosphere;
const principals: unknown[] = [];

beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    auth: {
      verify(token) {
        if (token === 'expired') {
          throw new AtmosphereError('UNAUTHORIZED', 'Token expired', {
            status: 401,
            headers: { [AtmosphereHeaders.authExpired]: 'true' },
          });
        }
        return token.startsWith('good-') ? { user: token.slice(5) } : undefined;
      },
      firstMessageTimeoutMs: 300,
    },
  });
  atmosphere.managed('/secure', {
    onReady(resource) {
      principals.push(resource.principal);
      resource.write('welcome');
    },
  });
});
afterAll(async () => {
  await atmosphere.close();
});

function upgradeStatus(ws: WebSocket): Promise<number> {
  return new Promise((resolve) =>
    ws.once('unexpected-response', (_request, response) => resolve(response.statusCode!)),
  );
}

describe('the auth hook', () => {
  test('a token in the header or the query lets the client in; the principal is on the resource', async () => {
    const viaHeader = await connectTestClient(atmosphere.url('/secure'), 'sse', {
      headers: { [AtmosphereHeaders.auth]: 'good-ann' },
    });
    expect(await viaHeader.messages.next()).toBe('welcome');
    const viaQuery = await connectTestClient(atmosphere.url('/secure'), 'websocket', {
      query: { [AtmosphereHeaders.auth]: 'good-bob' },
    });
    expect(await viaQuery.messages.next()).toBe('welcome');
    const viaBearer = await connectTestClient(atmosphere.url('/secure'), 'long-polling', {
      headers: { Authorization: 'Bearer good-cy' },
    });
    expect(await viaBearer.messages.next()).toBe('welcome');
    expect(principals).toEqual(expect.arrayContaining([{ user: 'ann' }, { user: 'bob' }, { user: 'cy' }]));
    await Promise.all([viaHeader.close(), viaQuery.close(), viaBearer.close()]);
  });

  test('no token or a bad one: 401 on HTTP and on the upgrade; the hook can say the token expired', async () => {
    expect((await fetch(protocolUrl(atmosphere.url('/secure'), 'sse'))).status).toBe(401);
    const bad = await fetch(
      protocolUrl(atmosphere.url('/secure'), 'sse', { query: { [AtmosphereHeaders.auth]: 'nope' } }),
    );
    expect(bad.status).toBe(401);
    const expired = await fetch(
      protocolUrl(atmosphere.url('/secure'), 'sse', { query: { [AtmosphereHeaders.auth]: 'expired' } }),
    );
    expect(expired.status).toBe(401);
    expect(expired.headers.get(AtmosphereHeaders.authExpired)).toBe('true');
    const ws = new WebSocket(
      protocolUrl(atmosphere.url('/secure'), 'websocket', { query: { [AtmosphereHeaders.auth]: 'nope' } }),
    );
    expect(await upgradeStatus(ws)).toBe(401);
  });

  test('a WebSocket may send its token as the first message; a bad one closes with 4401', async () => {
    const good = new WebSocket(protocolUrl(atmosphere.url('/secure'), 'websocket'));
    const frames: string[] = [];
    const welcomed = new Promise<void>((resolve) =>
      good.on('message', (data: Buffer) => {
        frames.push(data.toString());
        if (data.toString().endsWith('welcome')) resolve();
      }),
    );
    good.once('open', () => good.send('good-dee'));
    await welcomed;
    expect(frames.at(-1)).toBe('7|welcome');
    good.close();

    const bad = new WebSocket(protocolUrl(atmosphere.url('/secure'), 'websocket'));
    bad.once('open', () => bad.send('bad-token'));
    const code = await new Promise<number>((resolve) => bad.once('close', (c: number) => resolve(c)));
    expect(code).toBe(4401);
  });

  test('a WebSocket that never sends its token is closed with 4401 after the timeout; onReady never ran', async () => {
    const before = principals.length;
    const silent = new WebSocket(protocolUrl(atmosphere.url('/secure'), 'websocket'));
    const code = await new Promise<number>((resolve) => silent.once('close', (c: number) => resolve(c)));
    expect(code).toBe(4401);
    expect(principals.length).toBe(before);
  });
});
