import { connect } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { connectTestClient, eventually, startTestAtmosphere } from '../src/testing/index.ts';

describe('plain HTTP routes beside managed paths (atmosphere.handle)', () => {
  test('a route answers its requests with its path parameters; managed paths win; others get 404', async () => {
    await using atmosphere = await startTestAtmosphere();
    atmosphere.managed('/live/{room}', { onReady: (resource) => resource.write('managed') });
    atmosphere.handle('/api/{name}', {
      request(request, response, params) {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(JSON.stringify({ method: request.method, name: params['name'] }));
      },
    });
    atmosphere.handle('/live/special', {
      request(_request, response) {
        response.end('raw');
      },
    });
    const api = await fetch(atmosphere.url('/api/tools'), { method: 'POST', body: 'x' });
    expect(await api.json()).toEqual({ method: 'POST', name: 'tools' });
    // The managed template /live/{room} wins over the raw route for /live/special.
    const client = await connectTestClient(atmosphere.url('/live/special'), 'sse');
    expect(await client.messages.next()).toBe('managed');
    await client.close();
    expect((await fetch(atmosphere.url('/nowhere'))).status).toBe(404);
  });

  test('a handler that throws or rejects answers 500 and the server keeps serving', async () => {
    await using atmosphere = await startTestAtmosphere();
    atmosphere.handle('/throws', {
      request() {
        throw new Error('boom');
      },
    });
    atmosphere.handle('/rejects', {
      async request() {
        throw new Error('boom');
      },
    });
    atmosphere.handle('/ok', {
      request: (_q, response) => {
        response.end('ok');
      },
    });
    expect((await fetch(atmosphere.url('/rejects'))).status).toBe(500);
    expect((await fetch(atmosphere.url('/throws'))).status).toBe(500);
    expect(await (await fetch(atmosphere.url('/ok'))).text()).toBe('ok');
  });

  test('upgrade requests reach the route’s upgrade handler; a route without one refuses the upgrade', async () => {
    await using atmosphere = await startTestAtmosphere();
    const wss = new WebSocketServer({ noServer: true });
    atmosphere.handle('/raw-ws', {
      upgrade(request, socket, head) {
        wss.handleUpgrade(request, socket, head, (ws) => ws.send('hello raw'));
      },
    });
    atmosphere.handle('/no-upgrade', {
      request: (_q, response) => {
        response.end();
      },
    });
    const ws = new WebSocket(atmosphere.url('/raw-ws', 'ws'));
    const first = await new Promise<string>((resolve, reject) => {
      ws.once('message', (data: Buffer) => resolve(data.toString('utf8')));
      ws.once('error', reject);
    });
    expect(first).toBe('hello raw');
    ws.close();
    const refused = await new Promise<string>((resolve) => {
      const socket = connect(atmosphere.address()!.port, '127.0.0.1', () => {
        socket.write(
          'GET /no-upgrade HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
            'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
        );
      });
      let text = '';
      socket.on('data', (chunk) => (text += String(chunk)));
      socket.on('close', () => resolve(text));
    });
    expect(refused.startsWith('HTTP/1.1 404')).toBe(true);
    wss.close();
  });

  test('remove() unregisters the route', async () => {
    await using atmosphere = await startTestAtmosphere();
    const route = atmosphere.handle('/gone', {
      request: (_q, response) => {
        response.end('here');
      },
    });
    expect(await (await fetch(atmosphere.url('/gone'))).text()).toBe('here');
    route.remove();
    expect((await fetch(atmosphere.url('/gone'))).status).toBe(404);
  });

  test("shutdown awaits each route's close() before the providers go, and answers its requests 503 meanwhile; describe() lists the routes", async () => {
    const atmosphere = await startTestAtmosphere();
    let release!: () => void;
    const closing = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    atmosphere.handle('/held/{id}', {
      request: (_q, response) => {
        response.end('open');
      },
      upgrade: (_q, socket) => {
        socket.destroy();
      },
      async close() {
        order.push('route closing');
        await closing;
        order.push('route closed');
      },
    });
    expect(atmosphere.describe().routes).toEqual(['/held/{id}']);
    const url = atmosphere.url('/held/1');
    expect(await (await fetch(url)).text()).toBe('open');
    const shutdown = atmosphere.close().then(() => order.push('server closed'));
    await eventually(() => order.includes('route closing'), 'the route to be asked to close');
    // While it closes, the route's requests are answered 503 (the handler is not called).
    const { createServer } = await import('node:http');
    const probe = createServer((request, response) => {
      if (!atmosphere.handleRequest(request, response)) response.end('not ours');
    });
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as { port: number }).port;
    expect((await fetch(`http://127.0.0.1:${port}/held/2`)).status).toBe(503);
    probe.close();
    expect(order).toEqual(['route closing']);
    release();
    await shutdown;
    expect(order).toEqual(['route closing', 'route closed', 'server closed']);
  });
});
