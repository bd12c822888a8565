import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import { type Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  protocolUrl,
  startTestAtmosphere,
  type TestClient,
} from '../src/testing/index.ts';

let atmosphere: Atmosphere;
let bystander: TestClient;
const received: unknown[] = [];
let round = 0;

beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    maxMessageBytes: 64 * 1024,
    rateLimit: { messagesPerSecond: 20, burst: 20 },
  });
  atmosphere.managed('/chat', {
    onMessage(message) {
      received.push(message);
    },
  });
  bystander = await connectTestClient(atmosphere.url('/chat'), 'websocket');
});

afterAll(async () => {
  await bystander.close();
  await atmosphere.close();
});

/** After each bad input: the server is up and an unrelated client still gets broadcasts. */
beforeEach(async () => {
  const marker = `alive-${++round}`;
  await atmosphere.broadcast('/chat', marker);
  expect(await bystander.messages.waitFor((m) => m === marker)).toBe(marker);
});

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
}

async function openWs(query: Record<string, string> = {}): Promise<WebSocket> {
  const ws = new WebSocket(protocolUrl(atmosphere.url('/chat'), 'websocket', { query }));
  await new Promise<void>((resolve, reject) => {
    ws.once('message', () => resolve());
    ws.once('error', reject);
  });
  return ws;
}

function rawRequest(bytes: string | Buffer): Promise<string> {
  const address = atmosphere.address()!;
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(address.port, address.address, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('close', () => resolve(answer));
    socket.on('error', reject);
    socket.setTimeout(5_000, () => {
      socket.destroy();
      resolve(answer);
    });
  });
}

describe('bad input gets a clean error, the server stays up, others are unaffected', () => {
  test('invalid UTF-8 in a text frame closes that socket with 1007', async () => {
    const ws = await openWs();
    const closed = closeCode(ws);
    // A text frame (opcode 1, FIN, masked) carrying 0xff: not UTF-8.
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.write(Buffer.from([0x81, 0x81, 0x01, 0x02, 0x03, 0x04, 0xff ^ 0x01]));
    expect(await closed).toBe(1007);
  });

  test('an unmasked client frame is a protocol error: 1002', async () => {
    const ws = await openWs();
    const closed = closeCode(ws);
    const socket = (ws as unknown as { _socket: Socket })._socket;
    socket.write(Buffer.from([0x81, 0x02, 0x68, 0x69]));
    expect(await closed).toBe(1002);
  });

  test('an oversized WebSocket message closes with 1009 and never reaches the handler', async () => {
    const ws = await openWs();
    const closed = closeCode(ws);
    const before = received.length;
    ws.send(JSON.stringify({ big: 'x'.repeat(70 * 1024) }));
    expect(await closed).toBe(1009);
    expect(received.length).toBe(before);
  });

  test('an oversized POST gets 413 (declared or streamed)', async () => {
    const client = await connectTestClient(atmosphere.url('/chat'), 'long-polling');
    const url = protocolUrl(atmosphere.url('/chat'), 'long-polling', { trackingId: client.trackingId });
    const declared = await fetch(url, { method: 'POST', body: 'x'.repeat(70 * 1024) });
    expect(declared.status).toBe(413);
    expect(declared.headers.get(AtmosphereHeaders.error)).toMatch(/exceeds the limit of 65536 bytes/);
    const streamed = await fetch(url, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode('y'.repeat(10 * 1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    });
    expect(streamed.status).toBe(413);
    await client.close();
  });

  test('hostile JSON: too deep is refused with an error frame; prototype keys never reach the handler', async () => {
    const client = await connectTestClient(atmosphere.url('/chat'), 'websocket');
    await client.send('['.repeat(5_000) + ']'.repeat(5_000));
    const error = JSON.parse(await client.messages.next()) as { type: string; code: string };
    expect(error).toMatchObject({ type: 'error', code: 'INVALID_JSON' });
    const before = received.length;
    await client.send('{"__proto__":{"polluted":true},"text":"ok"}');
    await eventually(() => received.length > before, 'the message to be handled');
    const handled = received.at(-1) as Record<string, unknown>;
    expect(Object.keys(handled)).toEqual(['text']);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    await client.send('not json at all');
    expect(JSON.parse(await client.messages.next())).toMatchObject({ type: 'error', code: 'INVALID_JSON' });
    await client.close();
  });

  test('escaped prototype keys, on every transport, never reach a handler that deep-merges its input', async () => {
    // A handler as careless as real ones: it merges whatever arrives into a settings object.
    const merge = (target: Record<string, unknown>, source: unknown): void => {
      if (typeof source !== 'object' || source === null) return;
      for (const [key, value] of Object.entries(source)) {
        if (typeof value === 'object' && value !== null) {
          target[key] ??= {};
          merge(target[key] as Record<string, unknown>, value);
        } else target[key] = value;
      }
    };
    const attacks = [
      '{"\\u005f_proto__":{"polluted":1},"text":"a"}',
      '{"__pro\\u0074o__":{"polluted":2},"text":"b"}',
      '{"\\u0063onstructor":{"prototype":{"polluted":3}},"text":"c"}',
      '{"nested":{"deeper":{"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":4}}},"text":"d"}',
      '[{"\\u0070rototype":{"polluted":5}},{"text":"e"}]',
    ];
    for (const transport of ['websocket', 'sse', 'streaming', 'long-polling'] as const) {
      const client = await connectTestClient(atmosphere.url('/chat'), transport);
      for (const attack of attacks) {
        const before = received.length;
        await client.send(attack);
        await eventually(() => received.length > before, `${transport}: ${attack} handled`);
        const settings: Record<string, unknown> = {};
        merge(settings, received.at(-1));
        expect(JSON.stringify(received.at(-1))).not.toMatch(/__proto__|constructor|prototype/);
        expect(({} as Record<string, unknown>)['polluted'], `${transport}: ${attack}`).toBeUndefined();
      }
      await client.close();
    }
    expect(Object.prototype).not.toHaveProperty('polluted');
  });

  test('invalid tracking ids are replaced by a fresh UUID, which the handshake tells the client', async () => {
    for (const bad of ['../../etc/passwd', 'x'.repeat(200), 'a b', '<script>']) {
      const response = await fetch(protocolUrl(atmosphere.url('/chat'), 'long-polling', { trackingId: bad }));
      const body = await response.text();
      const id = response.headers.get(AtmosphereHeaders.trackingId)!;
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(response.headers.get(AtmosphereHeaders.firstRequest)).toBe('true');
      expect(body.trim()).toBe(`41|${id}|0|X|`);
    }
  });

  test('a POST for an unknown tracking id is refused with 404', async () => {
    const response = await fetch(
      protocolUrl(atmosphere.url('/chat'), 'long-polling', { trackingId: 'nobody-here' }),
      {
        method: 'POST',
        body: '{"text":"lost?"}',
      },
    );
    expect(response.status).toBe(404);
    expect(response.headers.get(AtmosphereHeaders.error)).toMatch(
      /No connection with tracking id nobody-here/,
    );
  });

  test('an unknown transport is a 400 naming the valid ones, on HTTP and on the upgrade', async () => {
    const response = await fetch(protocolUrl(atmosphere.url('/chat'), 'carrier-pigeon'));
    expect(response.status).toBe(400);
    expect(await response.text()).toMatch(
      /must be one of websocket, sse, long-polling, streaming, polling, close/,
    );
    const ws = new WebSocket(
      protocolUrl(atmosphere.url('/chat'), 'websocket').replace('Transport=websocket', 'Transport=sse'),
    );
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_q, r) => resolve(r.statusCode!)),
    );
    expect(status).toBe(400);
  });

  test('a disallowed origin gets 403 on HTTP, on the upgrade and on the preflight', async () => {
    const headers = { Origin: 'https://evil.example' };
    expect((await fetch(protocolUrl(atmosphere.url('/chat'), 'sse'), { headers })).status).toBe(403);
    expect((await fetch(atmosphere.url('/chat'), { method: 'OPTIONS', headers })).status).toBe(403);
    const ws = new WebSocket(protocolUrl(atmosphere.url('/chat'), 'websocket'), { headers });
    const status = await new Promise<number>((resolve) =>
      ws.once('unexpected-response', (_q, r) => resolve(r.statusCode!)),
    );
    expect(status).toBe(403);
    // Same origin passes, and gets CORS headers naming it.
    const origin = atmosphere.url('').replace(/\/$/, '');
    const preflight = await fetch(atmosphere.url('/chat'), {
      method: 'OPTIONS',
      headers: { Origin: origin },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers.get('access-control-allow-origin')).toBe(origin);
  });

  test('an old client protocol version gets 501 with the protocol error header', async () => {
    const url = new URL(protocolUrl(atmosphere.url('/chat'), 'long-polling'));
    url.searchParams.set(AtmosphereHeaders.framework, '2.1.9-jquery');
    const response = await fetch(url);
    expect(response.status).toBe(501);
    expect(response.headers.get(AtmosphereHeaders.error)).toBe('Atmosphere Protocol version not supported.');
  });

  test('garbage on the upgrade: a clean 400 and a closed socket', async () => {
    const noKey = await rawRequest(
      `GET /chat HTTP/1.1\r\nHost: 127.0.0.1:${atmosphere.address()!.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n`,
    );
    expect(noKey).toMatch(/^HTTP\/1\.1 400/);
    const junk = await rawRequest(
      Buffer.from([0x16, 0x03, 0x01, 0x00, 0xff, 0x00, 0x00, 0x0d, 0x0a, 0x0d, 0x0a]),
    );
    expect(junk).toMatch(/^HTTP\/1\.1 400/);
  });

  test('flooding a WebSocket closes it with 1008; flooding posts gets 429 with Retry-After', async () => {
    const ws = await openWs();
    const closed = closeCode(ws);
    for (let i = 0; i < 40; i++) ws.send('{}');
    expect(await closed).toBe(1008);
    const client = await connectTestClient(atmosphere.url('/chat'), 'sse');
    const statuses: number[] = [];
    // The bucket refills at 20/s while posts are on their way, so how many get through before the first 429
    // depends on the machine's speed; a burst of 20 always does, and a flood always ends in 429.
    for (let i = 0; i < 200 && statuses.at(-1) !== 429; i++) statuses.push(await client.send('{}'));
    expect(statuses.slice(0, 20).every((s) => s === 200)).toBe(true);
    expect(statuses.at(-1)).toBe(429);
    await client.close();
  });
});
