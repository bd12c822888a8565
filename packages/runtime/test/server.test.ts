import express from 'express';
import Fastify from 'fastify';
import { createServer, type Server } from 'node:http';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { createAtmosphere, type DisconnectReason, silentLogger } from '../src/index.ts';
import { defineProvider } from '../src/spi/index.ts';
import { connectTestClient, eventually, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    }),
  );
}

describe('attached to an application server', () => {
  test('beside Express: Express routes keep working, Atmosphere paths are served', async () => {
    const app = express();
    app.get('/api/hello', (_request, response) => {
      response.json({ hello: 'express' });
    });
    const server = createServer(app);
    const port = await listen(server);
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('from atmosphere') });
    const base = `http://127.0.0.1:${port}`;
    expect(await (await fetch(`${base}/api/hello`)).json()).toEqual({ hello: 'express' });
    expect((await fetch(`${base}/api/missing`)).status).toBe(404);
    const client = await connectTestClient(`${base}/live`, 'websocket');
    expect(await client.messages.next()).toBe('from atmosphere');
    const sse = await connectTestClient(`${base}/live`, 'sse');
    expect(await sse.messages.next()).toBe('from atmosphere');
    await client.close();
    await sse.close();
    await atmosphere.close();
    // Detached: the application server is still the application's, and still serves.
    expect(await (await fetch(`${base}/api/hello`)).json()).toEqual({ hello: 'express' });
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('as an Express middleware', async () => {
    const app = express();
    const server = createServer(app);
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/mw', { onReady: (resource) => resource.write('via middleware') });
    app.use(atmosphere.middleware());
    app.get('/plain', (_request, response) => {
      response.send('plain');
    });
    const port = await listen(server);
    expect(await (await fetch(`http://127.0.0.1:${port}/plain`)).text()).toBe('plain');
    const client = await connectTestClient(`http://127.0.0.1:${port}/mw`, 'long-polling');
    expect(await client.messages.next()).toBe('via middleware');
    await client.close();
    await atmosphere.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('beside Fastify on its server', async () => {
    const fastify = Fastify();
    fastify.get('/api/hello', async () => ({ hello: 'fastify' }));
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const atmosphere = await createAtmosphere({
      server: fastify.server,
      logger: silentLogger,
      autoload: false,
    });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('from atmosphere') });
    const address = fastify.server.address();
    const base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    expect(await (await fetch(`${base}/api/hello`)).json()).toEqual({ hello: 'fastify' });
    const client = await connectTestClient(`${base}/live`, 'websocket');
    expect(await client.messages.next()).toBe('from atmosphere');
    const streaming = await connectTestClient(`${base}/live`, 'streaming');
    expect(await streaming.messages.next()).toBe('from atmosphere');
    await client.close();
    await streaming.close();
    await atmosphere.close();
    await fastify.close();
  });
});

describe('graceful shutdown', () => {
  test('writes what is pending, closes WebSockets with 1001, ends streams, runs onDisconnect, awaits handlers', async () => {
    const atmosphere = await startTestAtmosphere();
    const reasons: DisconnectReason[] = [];
    let handlerFinished = false;
    atmosphere.managed('/bye', {
      async onDisconnect(_resource, reason) {
        reasons.push(reason);
        await new Promise((resolve) => setTimeout(resolve, 50));
        handlerFinished = true;
      },
    });
    const url = atmosphere.url('/bye');
    const ws = new WebSocket(protocolUrl(url, 'websocket'));
    const wsFrames: string[] = [];
    ws.on('message', (data: Buffer) => wsFrames.push(data.toString()));
    const wsClosed = new Promise<number>((resolve) => ws.once('close', (code: number) => resolve(code)));
    await new Promise((resolve) => ws.once('message', resolve));
    const sse = await connectTestClient(atmosphere.url('/bye'), 'sse');
    await eventually(() => atmosphere.describe().resources.connected === 2, 'both clients to connect');
    for (let i = 0; i < 100; i++) void atmosphere.broadcast('/bye', `last-${i}`);
    await atmosphere.close();
    expect(await wsClosed).toBe(1001);
    await sse.ended;
    expect(wsFrames.slice(1)).toEqual(
      Array.from({ length: 100 }, (_, i) => `${`last-${i}`.length}|last-${i}`),
    );
    expect(sse.messages.items.length).toBe(100);
    expect(reasons).toEqual(['server-closed', 'server-closed']);
    expect(handlerFinished).toBe(true);
    // New connections are refused once closed.
    await expect(fetch(url)).rejects.toThrow();
  });
});

describe('several processes on one port (reusePort)', () => {
  test('two instances share a port; the kernel spreads connections over both and each serves its own', async () => {
    const options = { logger: silentLogger, autoload: false, heartbeat: false, reusePort: true } as const;
    const first = await createAtmosphere({ ...options, port: 0 });
    const port = first.address()!.port;
    const second = await createAtmosphere({ ...options, port });
    try {
      expect(second.address()!.port).toBe(port);
      for (const [index, atmosphere] of [first, second].entries()) {
        atmosphere.managed('/who', { onReady: (resource) => resource.write(`node-${index}`) });
      }
      // Connections are hashed over the two listening sockets by their source port: 40 of them all landing
      // on one side would happen once in 2^39 runs.
      const clients = await Promise.all(
        Array.from({ length: 40 }, () => connectTestClient(`http://127.0.0.1:${port}/who`, 'websocket')),
      );
      const answers = await Promise.all(clients.map((client) => client.messages.next()));
      const counts = [first, second].map((a) => a.describe().resources.connected);
      expect(counts[0]! + counts[1]!).toBe(40);
      expect(counts[0]).toBeGreaterThan(0);
      expect(counts[1]).toBeGreaterThan(0);
      expect(answers.filter((a) => a === 'node-0').length).toBe(counts[0]);
      expect(answers.filter((a) => a === 'node-1').length).toBe(counts[1]);
      await Promise.all(clients.map((client) => client.close()));
    } finally {
      await Promise.all([first.close(), second.close()]);
    }
  });

  test('without reusePort, a second instance on a taken port fails clearly', async () => {
    const first = await createAtmosphere({ logger: silentLogger, autoload: false, port: 0 });
    try {
      await expect(
        createAtmosphere({ logger: silentLogger, autoload: false, port: first.address()!.port }),
      ).rejects.toThrow(/EADDRINUSE/);
    } finally {
      await first.close();
    }
  });
});

test('a backplane that cannot start fails createAtmosphere cleanly: providers closed, the application server left as it was', async () => {
  const server = createServer((_request, response) => response.end('app'));
  const port = await listen(server);
  const listeners = { request: server.listenerCount('request'), upgrade: server.listenerCount('upgrade') };
  let closed = 0;
  const failing = defineProvider({
    kind: 'broadcaster-backplane',
    name: 'unreachable',
    priority: 10,
    isAvailable: () => true,
    create: () => ({
      name: 'unreachable',
      start: () => Promise.reject(new Error('cluster unreachable')),
      publish() {},
      async close() {
        closed++;
      },
    }),
  });
  try {
    await expect(
      createAtmosphere({ server, logger: silentLogger, autoload: false, providers: [failing] }),
    ).rejects.toThrow('cluster unreachable');
    expect(closed).toBe(1);
    expect(server.listenerCount('request')).toBe(listeners.request);
    expect(server.listenerCount('upgrade')).toBe(listeners.upgrade);
    expect(await (await fetch(`http://127.0.0.1:${port}/live`)).text()).toBe('app');
  } finally {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
});
