import { getRequestListener } from '@hono/node-server';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { type Atmosphere, type DisconnectReason, silentLogger } from '../src/index.ts';
import { routeAtmosphere, routeHandlers, type RouteHandlers } from '../src/integrations/next.ts';
import { connectTestClient, protocolUrl } from '../src/testing/index.ts';

/**
 * Route handlers are Web `Request` → `Response` functions; Next's server calls them with the request of a real
 * socket and streams the body of their answer. `@hono/node-server`'s request listener does the same here: a
 * real HTTP server, real fetch and EventSource-style clients, the handlers exactly as a `route.ts` exports them.
 */
async function serveRoutes(handlers: RouteHandlers): Promise<{ server: Server; base: string }> {
  const listener = getRequestListener((request) => {
    const handler = handlers[request.method as keyof RouteHandlers];
    return handler ? handler(request) : new Response('method', { status: 405 });
  });
  const server = createServer((request, response) => void listener(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function routed(
  name: string,
  disconnects: DisconnectReason[] = [],
  reconnectGraceMs?: number,
): Promise<{ atmosphere: Atmosphere; base: string }> {
  const atmosphere = await routeAtmosphere(
    name,
    (instance) => {
      instance.managed('/live/{room}', {
        onReady: (resource, { params }) => resource.write(`welcome to ${params['room']}`),
        onMessage: (message) => message,
        onDisconnect: (_resource, reason) => {
          disconnects.push(reason);
        },
      });
    },
    { logger: silentLogger, autoload: false, ...(reconnectGraceMs ? { reconnectGraceMs } : {}) },
  );
  const { server, base } = await serveRoutes(routeHandlers(() => routeAtmosphere(name)));
  cleanup.push(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await atmosphere.close({ timeoutMs: 0 });
  });
  return { atmosphere, base };
}

describe('Next.js route handlers: routeHandlers(atmosphere)', () => {
  test('SSE, streaming and long-polling, with their POSTs, served through the handlers', async () => {
    const { base } = await routed('transports');
    for (const transport of ['sse', 'streaming', 'long-polling'] as const) {
      const client = await connectTestClient(`${base}/live/lobby`, transport);
      expect(await client.messages.next()).toBe('welcome to lobby');
      const echoed = client.messages.waitFor((message) => message.includes(`"via":"${transport}"`));
      expect(await client.send(JSON.stringify({ via: transport }))).toBeLessThan(300);
      await echoed;
      await client.close();
    }
  });

  test('one instance per name and process: every route module and request shares its broadcasters', async () => {
    const { atmosphere, base } = await routed('shared');
    expect(await routeAtmosphere('shared')).toBe(atmosphere);
    const listener = await connectTestClient(`${base}/live/news`, 'sse');
    await listener.messages.next();
    const arrived = listener.messages.waitFor((message) => message === 'from elsewhere');
    await atmosphere.broadcast('/live/news', 'from elsewhere');
    await arrived;
    await listener.close();
  });

  test('the client going away closes the connection: Atmosphere sees the disconnect', async () => {
    const disconnects: DisconnectReason[] = [];
    // The stream is lost, not closed by the client: the disconnect comes once the reconnect grace is over.
    const { base } = await routed('abort', disconnects, 300);
    const controller = new AbortController();
    const response = await fetch(protocolUrl(`${base}/live/lobby`, 'sse'), { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    let seen = '';
    while (!seen.includes('welcome to lobby')) {
      const { value } = await reader.read();
      seen += new TextDecoder().decode(value);
    }
    controller.abort();
    await expect.poll(() => disconnects.length, { timeout: 15_000 }).toBeGreaterThan(0);
  });

  test("Atmosphere's answers come back as they are: a path it does not serve is 404, bad input is 400", async () => {
    const { base } = await routed('errors');
    expect((await fetch(protocolUrl(`${base}/nowhere`, 'sse'))).status).toBe(404);
    const bad = await fetch(`${base}/live/lobby?X-Atmosphere-Transport=carrier-pigeon`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toMatch(/transport/i);
  });

  test('a WebSocket upgrade is answered 426 with the way to get one', async () => {
    const atmosphere = await routeAtmosphere('upgrade', undefined, { logger: silentLogger, autoload: false });
    cleanup.push(() => atmosphere.close({ timeoutMs: 0 }));
    const response = await routeHandlers(atmosphere).GET(
      new Request('http://localhost/live/lobby', {
        headers: { upgrade: 'websocket', connection: 'Upgrade' },
      }),
    );
    expect(response.status).toBe(426);
    expect(await response.text()).toContain('custom server');
  });

  test('a setup that fails is not kept: the next call starts again', async () => {
    await expect(
      routeAtmosphere(
        'retry',
        () => {
          throw new Error('not today');
        },
        { logger: silentLogger, autoload: false },
      ),
    ).rejects.toThrow('not today');
    const atmosphere = await routeAtmosphere('retry', undefined, { logger: silentLogger, autoload: false });
    cleanup.push(() => atmosphere.close({ timeoutMs: 0 }));
    expect(atmosphere.describe().paths).toEqual([]);
  });
});
