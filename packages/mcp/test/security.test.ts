import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { Inbox } from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WebSocket from 'ws';
import { newSessionId } from '../src/index.ts';
import {
  type Fixture,
  INITIALIZE,
  messagesOf,
  POST_HEADERS,
  raw,
  type RawResponse,
  rawSession,
  startFixture,
} from './helpers.ts';

const TOKENS: Record<string, string> = { 'token-alice': 'alice', 'token-bob': 'bob' };

let fixture: Fixture;
let limited: string;

beforeAll(async () => {
  fixture = await startFixture({
    auth: { verify: (token) => (TOKENS[token] ? { id: TOKENS[token] } : undefined) },
    security: { maxMessageBytes: 16 * 1024, rateLimit: { perSecond: 1000, burst: 1000 } },
  });
  // A second endpoint on the same server, anonymous, with a tight rate limit.
  const { mcpServer } = await import('../src/index.ts');
  mcpServer(fixture.atmosphere, {
    path: '/limited',
    name: 'limited',
    version: '1.0.0',
    rooms: false,
    security: { rateLimit: { perSecond: 0.001, burst: 3 } },
  });
  limited = fixture.atmosphere.url('/limited');
});

afterAll(async () => {
  await fixture?.close();
});

const ALICE = { authorization: 'Bearer token-alice' };
const BOB = { authorization: 'Bearer token-bob' };

/** The answer is a JSON-RPC error (and nothing else) with this status and code. */
function expectJsonRpcError(answer: RawResponse, status: number, code: number): Record<string, unknown> {
  expect(answer.status).toBe(status);
  expect(answer.headers['content-type']).toBe('application/json');
  const body = JSON.parse(answer.body) as {
    jsonrpc: string;
    error: { code: number; message: string };
    id: unknown;
  };
  expect(body.jsonrpc).toBe('2.0');
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  expect(Object.keys(body).sort()).toEqual(['error', 'id', 'jsonrpc']);
  return body;
}

async function post(
  session: string,
  body: string,
  headers: Record<string, string> = ALICE,
): Promise<RawResponse> {
  return raw(fixture.url, {
    headers: { ...POST_HEADERS, ...headers, 'mcp-session-id': session, 'mcp-protocol-version': '2025-11-25' },
    body,
  });
}

/** After each attack, the server still answers a well-formed call. */
async function stillServes(session: string): Promise<void> {
  const answer = await post(
    session,
    JSON.stringify({
      jsonrpc: '2.0',
      id: 'alive',
      method: 'tools/call',
      params: { name: 'echo', arguments: { text: 'ok' } },
    }),
  );
  expect(messagesOf(answer).at(-1)).toMatchObject({
    id: 'alive',
    result: { content: [{ type: 'text', text: 'echo: ok' }] },
  });
}

describe('DNS rebinding and origin', () => {
  test('a foreign Host header is refused on every method and on the WebSocket upgrade', async () => {
    for (const method of ['POST', 'GET', 'DELETE']) {
      const answer = await raw(fixture.url, {
        method,
        headers: { ...POST_HEADERS, ...ALICE, host: 'evil.example:80' },
        ...(method === 'POST' ? { body: INITIALIZE } : {}),
      });
      expectJsonRpcError(answer, 403, -32000);
    }
    const refused = await upgradeStatus(fixture.wsUrl, { ...ALICE, host: 'attacker.example' });
    expect(refused).toBe(403);
  });

  test('a foreign Origin is refused; a loopback origin and no origin are served', async () => {
    const evil = await raw(fixture.url, {
      headers: { ...POST_HEADERS, ...ALICE, origin: 'http://evil.example' },
      body: INITIALIZE,
    });
    expectJsonRpcError(evil, 403, -32000);
    const local = await raw(fixture.url, {
      headers: { ...POST_HEADERS, ...ALICE, origin: 'http://localhost:6274' },
      body: INITIALIZE,
    });
    expect(local.status).toBe(200);
    expect(local.headers['access-control-allow-origin']).toBe('http://localhost:6274');
    expect(await upgradeStatus(fixture.wsUrl, { ...ALICE, origin: 'https://evil.example' })).toBe(403);
  });
});

describe('bearer tokens and sessions', () => {
  test('no token, a malformed header and an unknown token get 401 with a Bearer challenge', async () => {
    for (const headers of [{}, { authorization: 'Basic YWxpY2U6eA==' }, { authorization: 'Bearer nope' }]) {
      const answer = await raw(fixture.url, { headers: { ...POST_HEADERS, ...headers }, body: INITIALIZE });
      expectJsonRpcError(answer, 401, -32001);
      expect(String(answer.headers['www-authenticate'])).toMatch(/^Bearer realm="mcp"/);
    }
    expect(await upgradeStatus(fixture.wsUrl, {})).toBe(401);
  });

  test('session ids come from the CSPRNG (192 bits, no repeats) and are bound to their principal', async () => {
    const ids = new Set(Array.from({ length: 2000 }, () => newSessionId()));
    expect(ids.size).toBe(2000);
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const alices = await rawSession(fixture.url, ALICE);
    expect(alices).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const ping = JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' });
    expect(messagesOf(await post(alices, ping))).toEqual([{ jsonrpc: '2.0', id: 7, result: {} }]);
    // Bob holding Alice's session id finds nothing, on every method.
    expectJsonRpcError(await post(alices, ping, BOB), 404, -32001);
    const get = await raw(fixture.url, {
      method: 'GET',
      headers: { ...BOB, accept: 'text/event-stream', 'mcp-session-id': alices },
    });
    expectJsonRpcError(get, 404, -32001);
    const del = await raw(fixture.url, { method: 'DELETE', headers: { ...BOB, 'mcp-session-id': alices } });
    expectJsonRpcError(del, 404, -32001);
    // A guessed id finds nothing either, and Alice's session is untouched.
    expectJsonRpcError(await post(newSessionId(), ping), 404, -32001);
    await stillServes(alices);
  });

  test('a tool sees the principal through the SDK client with a token', async () => {
    const client = new Client({ name: 'alice', version: '1' });
    await client.connect(
      new StreamableHTTPClientTransport(new URL(fixture.url), { requestInit: { headers: ALICE } }),
    );
    try {
      const result = await client.callTool({ name: 'echo', arguments: { text: 'hi' } });
      expect(result.content).toEqual([{ type: 'text', text: 'echo: hi' }]);
    } finally {
      await client.close();
    }
  });
});

describe('limits', () => {
  test('a body over the size limit gets 413 without being read to the end', async () => {
    const session = await rawSession(fixture.url, ALICE);
    const big = JSON.stringify({
      jsonrpc: '2.0',
      id: 1,
      method: 'ping',
      params: { pad: 'x'.repeat(20_000) },
    });
    expectJsonRpcError(await post(session, big), 413, -32600);
    await stillServes(session);
  });

  test('requests past the rate limit get 429 with Retry-After', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      const answer = await raw(limited, { headers: { ...POST_HEADERS }, body: INITIALIZE });
      statuses.push(answer.status);
      if (answer.status === 429) {
        expectJsonRpcError(answer, 429, -32000);
        expect(answer.headers['retry-after']).toBe('1');
      }
    }
    expect(statuses).toEqual([200, 200, 200, 429, 429]);
  });
});

describe('hostile JSON-RPC gets JSON-RPC errors and nothing else', () => {
  let session: string;
  beforeAll(async () => {
    session = await rawSession(fixture.url, ALICE);
  });

  test.each([
    ['invalid JSON', '{"jsonrpc":"2.0",', 400, -32700],
    ['a bare string', '"hello"', 400, -32600],
    ['null', 'null', 400, -32600],
    ['an empty batch', '[]', 400, -32600],
    ['a batch of junk', '[1, "two", null, {"x": 3}]', 400, -32600],
    [
      'a batch of 100 pings',
      JSON.stringify(Array.from({ length: 100 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'ping' }))),
      400,
      -32600,
    ],
    ['a wrong jsonrpc version', '{"jsonrpc":"1.0","id":1,"method":"ping"}', 400, -32600],
    [
      'a huge string id',
      JSON.stringify({ jsonrpc: '2.0', id: 'i'.repeat(10_000), method: 'ping' }),
      400,
      -32600,
    ],
    ['a huge numeric id', '{"jsonrpc":"2.0","id":1e300,"method":"ping"}', 400, -32600],
    ['a fractional id', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', 400, -32600],
    ['an object id', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', 400, -32600],
    ['a non-string method', '{"jsonrpc":"2.0","id":1,"method":42}', 400, -32600],
    [
      'deep params',
      `{"jsonrpc":"2.0","id":1,"method":"ping","params":${'['.repeat(200)}${']'.repeat(200)}}`,
      400,
      -32700,
    ],
  ])('%s', async (_name, body, status, code) => {
    expectJsonRpcError(await post(session, body), status, code);
    await stillServes(session);
  });

  test('an unknown method is answered "method not found"', async () => {
    const answer = await post(
      session,
      JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/explode', params: {} }),
    );
    expect(messagesOf(answer)).toEqual([
      { jsonrpc: '2.0', id: 9, error: { code: -32601, message: 'Method not found' } },
    ]);
  });

  test('prototype keys are dropped before the SDK or a tool sees them', async () => {
    const body =
      '{"jsonrpc":"2.0","id":"p","method":"tools/call","__proto__":{"polluted":1},' +
      '"params":{"name":"echo","constructor":{"prototype":{"polluted":2}},"arguments":{"text":"safe","__proto__":{"polluted":3}}}}';
    const answer = await post(session, body);
    expect(messagesOf(answer).at(-1)).toMatchObject({
      id: 'p',
      result: { content: [{ type: 'text', text: 'echo: safe' }] },
    });
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  test('a request without a session (other than initialize) gets 400; a second initialize in a session gets an error', async () => {
    const answer = await raw(fixture.url, {
      headers: { ...POST_HEADERS, ...ALICE },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list' }),
    });
    expectJsonRpcError(answer, 400, -32000);
    expectJsonRpcError(await post(session, INITIALIZE), 400, -32600);
  });

  test('other HTTP methods get 405 with a JSON-RPC error', async () => {
    const answer = await raw(fixture.url, { method: 'PUT', headers: { ...ALICE }, body: '{}' });
    expectJsonRpcError(answer, 405, -32000);
    expect(answer.headers['allow']).toBe('GET, POST, DELETE, OPTIONS');
  });

  test('over WebSocket: junk frames get JSON-RPC errors, the socket stays open and keeps serving', async () => {
    const socket = new WebSocket(fixture.wsUrl, 'mcp', { headers: ALICE });
    const inbox = new Inbox<Record<string, unknown>>();
    socket.on('message', (data: Buffer) =>
      inbox.push(JSON.parse(data.toString('utf8')) as Record<string, unknown>),
    );
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const send = (text: string): void => socket.send(text);
    try {
      send('{"jsonrpc":"2.0",');
      expect(await inbox.next()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
      send('[1, 2, 3]');
      expect(await inbox.next()).toMatchObject({ id: null, error: { code: -32600 } });
      send(JSON.stringify({ jsonrpc: '2.0', id: 'x'.repeat(5000), method: 'ping' }));
      expect(await inbox.next()).toMatchObject({ id: null, error: { code: -32600 } });
      send(`{"jsonrpc":"2.0","id":3,"method":"ping","params":${'{"a":'.repeat(100)}1${'}'.repeat(100)}}`);
      expect(await inbox.next()).toMatchObject({ id: null, error: { code: -32700 } });
      socket.send(Buffer.from([1, 2, 3]), { binary: true });
      expect(await inbox.next()).toMatchObject({ id: null, error: { code: -32600 } });
      send(
        JSON.stringify({
          jsonrpc: '2.0',
          id: 4,
          method: 'initialize',
          params: JSON.parse(INITIALIZE).params,
        }),
      );
      expect(await inbox.next()).toMatchObject({
        id: 4,
        result: { serverInfo: { name: 'atmosphere-test' } },
      });
      send(JSON.stringify({ jsonrpc: '2.0', method: 'notifications/initialized' }));
      send(JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'no/such/method' }));
      expect(await inbox.next()).toMatchObject({ id: 5, error: { code: -32601 } });
      send(JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'ping' }));
      expect(await inbox.next()).toEqual({ jsonrpc: '2.0', id: 6, result: {} });
      expect(socket.readyState).toBe(WebSocket.OPEN);
    } finally {
      socket.close();
    }
  });

  test('over WebSocket: a message over the size limit closes the socket with 1009', async () => {
    const socket = new WebSocket(fixture.wsUrl, 'mcp', { headers: ALICE });
    await new Promise<void>((resolve, reject) => {
      socket.once('open', () => resolve());
      socket.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => socket.once('close', (code: number) => resolve(code)));
    socket.send(
      JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping', params: { pad: 'x'.repeat(20_000) } }),
    );
    expect(await closed).toBe(1009);
  });
});

/** The HTTP status an upgrade request is refused with (101 when accepted). */
function upgradeStatus(url: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url, 'mcp', { headers });
    socket.once('open', () => {
      socket.close();
      resolve(101);
    });
    socket.once('unexpected-response', (_request, response) => {
      resolve(response.statusCode ?? 0);
      response.resume();
    });
    socket.once('error', (error) => {
      if (!String(error.message).includes('Unexpected server response')) reject(error);
    });
  });
}
