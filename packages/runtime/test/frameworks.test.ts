import express from 'express';
import Fastify from 'fastify';
import { Hono } from 'hono';
import { createAdaptorServer } from '@hono/node-server';
import type { Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereError, createAtmosphere, type DisconnectReason, silentLogger } from '../src/index.ts';
import { listen as listenExpress } from '../src/integrations/express.ts';
import { atmosphere as atmospherePlugin } from '../src/integrations/fastify.ts';
import { listen as listenHono } from '../src/integrations/hono.ts';
import { connectTestClient, protocolUrl } from '../src/testing/index.ts';

/** The same checks for every framework: its route, and Atmosphere over WebSocket, SSE and long-polling. */
async function servesBoth(base: string, route: string, expected: unknown): Promise<void> {
  expect(await (await fetch(`${base}${route}`)).json()).toEqual(expected);
  for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
    const client = await connectTestClient(`${base}/live/lobby`, transport);
    expect(await client.messages.next()).toBe('welcome to lobby');
    const echoed = client.messages.waitFor((message) => message.includes(`"via":"${transport}"`));
    expect(await client.send(JSON.stringify({ via: transport }))).toBeLessThan(300);
    await echoed;
    await client.close();
  }
}

/** A plain `ws` WebSocket whose close code is awaited: what `close()` sends to a client still connected. */
function closeCodeOf(url: string): { opened: Promise<void>; code: Promise<number> } {
  const ws = new WebSocket(protocolUrl(url, 'websocket'));
  return {
    opened: new Promise((resolve, reject) => ws.once('message', () => resolve()).once('error', reject)),
    code: new Promise((resolve) => ws.once('close', (code) => resolve(code))),
  };
}

describe('Express 5: listen(app, { port })', () => {
  test("one port: the app's routes, and Atmosphere's paths over WebSocket, SSE and long-polling", async () => {
    const app = express();
    app.get('/api/hello', (_request, response) => {
      response.json({ hello: 'express' });
    });
    const running = await listenExpress(app, { port: 0, logger: silentLogger, autoload: false });
    const disconnects: DisconnectReason[] = [];
    running.atmosphere.managed('/live/{room}', {
      onReady: (resource, { params }) => resource.write(`welcome to ${params['room']}`),
      onMessage: (message) => message,
      onDisconnect: (_resource, reason) => {
        disconnects.push(reason);
      },
    });
    const base = running.url('').replace(/\/$/, '');
    await servesBoth(base, '/api/hello', { hello: 'express' });
    // Unknown paths are Express's (its 404), not Atmosphere's.
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);

    const last = closeCodeOf(`${base}/live/lobby`);
    await last.opened;
    await running.close();
    expect(await last.code).toBe(1001);
    expect(disconnects).toContain('server-closed');
    expect(running.server.listening).toBe(false);
    await running.close(); // idempotent
  });

  test('a port already taken: listen() rejects and releases the Atmosphere it started', async () => {
    const first = await listenExpress(express(), { port: 0, logger: silentLogger, autoload: false });
    const port = (first.server.address() as AddressInfo).port;
    const failure = await listenExpress(express(), { port, logger: silentLogger, autoload: false }).then(
      () => undefined,
      (error: unknown) => error as NodeJS.ErrnoException,
    );
    expect(failure?.code).toBe('EADDRINUSE');
    await first.close();
  });
});

describe('Fastify 5: fastify.register(atmosphere, options)', () => {
  test('a plugin: decorated instance, routes beside it, preClose ends streams and WebSockets, logs via fastify.log', async () => {
    const lines: string[] = [];
    const fastify = Fastify({
      logger: {
        level: 'info',
        stream: { write: (line: string) => void lines.push(line) },
      },
    });
    fastify.get('/api/hello', async () => ({ hello: 'fastify' }));
    const disconnects: DisconnectReason[] = [];
    await fastify.register(atmospherePlugin, {
      autoload: false,
      setup(atmosphere) {
        atmosphere.managed('/live/{room}', {
          onReady: (resource, { params }) => resource.write(`welcome to ${params['room']}`),
          onMessage: (message) => message,
          onDisconnect: (_resource, reason) => {
            disconnects.push(reason);
          },
        });
      },
    });
    // Not encapsulated: the decorator is the application's.
    expect(fastify.atmosphere.describe().paths).toEqual(['/live/{room}']);
    await fastify.listen({ port: 0, host: '127.0.0.1' });
    const base = `http://127.0.0.1:${(fastify.server.address() as AddressInfo).port}`;
    await servesBoth(base, '/api/hello', { hello: 'fastify' });

    const last = closeCodeOf(`${base}/live/lobby`);
    await last.opened;
    const sse = await connectTestClient(`${base}/live/lobby`, 'sse');
    await sse.messages.next();
    await fastify.close(); // would wait for the open SSE stream without the preClose hook
    expect(await last.code).toBe(1001);
    await sse.ended;
    expect(disconnects.filter((reason) => reason === 'server-closed')).toHaveLength(2);
    expect(lines.some((line) => line.includes('attached to the application server'))).toBe(true);
  });

  test('a failing setup fails the registration, and the Atmosphere it started is closed', async () => {
    const fastify = Fastify();
    await expect(
      fastify.register(atmospherePlugin, {
        autoload: false,
        logger: silentLogger,
        setup() {
          throw new AtmosphereError('INVALID_OPTION', 'no paths today');
        },
      }),
    ).rejects.toThrow('no paths today');
    await fastify.close();
  });
});

describe('Hono on @hono/node-server', () => {
  test("listen(app, { port }): Hono's routes and Atmosphere's paths on one server", async () => {
    const app = new Hono().get('/api/hello', (c) => c.json({ hello: 'hono' }));
    const running = await listenHono(app, { port: 0, logger: silentLogger, autoload: false });
    running.atmosphere.managed('/live/{room}', {
      onReady: (resource, { params }) => resource.write(`welcome to ${params['room']}`),
      onMessage: (message) => message,
    });
    const base = running.url('').replace(/\/$/, '');
    await servesBoth(base, '/api/hello', { hello: 'hono' });
    expect((await fetch(`${base}/nowhere`)).status).toBe(404);
    const last = closeCodeOf(`${base}/live/lobby`);
    await last.opened;
    await running.close();
    expect(await last.code).toBe(1001);
  });

  test('a server made with createAdaptorServer attaches with createAtmosphere({ server })', async () => {
    const app = new Hono().get('/api/hello', (c) => c.json({ hello: 'adaptor' }));
    const server = createAdaptorServer({ fetch: app.fetch });
    // `ServerType` also covers a cleartext HTTP/2 server; this one is node:http's.
    const atmosphere = await createAtmosphere({
      server: server as HttpServer,
      logger: silentLogger,
      autoload: false,
    });
    atmosphere.managed('/live/{room}', {
      onReady: (resource, { params }) => resource.write(`welcome to ${params['room']}`),
      onMessage: (message) => message,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    await servesBoth(base, '/api/hello', { hello: 'adaptor' });
    await atmosphere.close();
    await new Promise((resolve) => server.close(resolve));
  });
});
