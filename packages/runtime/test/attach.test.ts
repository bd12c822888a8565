import express from 'express';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { connect, createSecureServer, type Http2SecureServer } from 'node:http2';
import { createServer as createHttpsServer, get as httpsGet } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { AtmosphereError, createAtmosphere, silentLogger } from '../src/index.ts';
import { connectTestClient, Inbox, protocolUrl, startTestAtmosphere } from '../src/testing/index.ts';

function listen(server: Server | Http2SecureServer): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

/** A WebSocket of the protocol over `ws` (with the test's CA for wss), its frames in an inbox. */
function protocolWebSocket(url: string, ca?: Buffer): { ws: WebSocket; frames: Inbox<string> } {
  const frames = new Inbox<string>();
  const ws = new WebSocket(protocolUrl(url, 'websocket'), ca ? { ca } : {});
  ws.on('message', (data: Buffer) => frames.push(data.toString('utf8')));
  ws.on('error', (error) => frames.fail(error));
  return { ws, frames };
}

describe('where Atmosphere serves: never a port it was not asked for', () => {
  test('createAtmosphere() without server or port is refused before anything starts, saying what to pass', async () => {
    const failure = await createAtmosphere({ logger: silentLogger, autoload: false }).then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(AtmosphereError.isInstance(failure)).toBe(true);
    expect((failure as AtmosphereError).code).toBe('INVALID_OPTION');
    expect((failure as Error).message).toContain('createAtmosphere({ server })');
    expect((failure as Error).message).toContain('createAtmosphere({ port: 8080 })');
  });

  test('middleware() of an Atmosphere on a port of its own is refused with NOT_ATTACHED and the fix', async () => {
    const atmosphere = await startTestAtmosphere();
    try {
      let thrown: unknown;
      try {
        express().use(atmosphere.middleware());
      } catch (error) {
        thrown = error;
      }
      expect(AtmosphereError.isInstance(thrown)).toBe(true);
      expect((thrown as AtmosphereError).code).toBe('NOT_ATTACHED');
      expect((thrown as Error).message).toContain(
        `listens on a port of its own (${atmosphere.address()!.port})`,
      );
      expect((thrown as Error).message).toContain('await createAtmosphere({ server })');
      expect((thrown as Error).message).toContain('@atmosphere/runtime/express');
    } finally {
      await atmosphere.close();
    }
  });

  test("attached to an Express app's server, WebSocket is served on the app's port (no 200 from the app)", async () => {
    const app = express();
    app.use((_request, response) => {
      response.send('the app');
    });
    const server = createHttpServer(app);
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    app.use(atmosphere.middleware()); // allowed (and not needed) when attached
    atmosphere.managed('/live', { onReady: (resource) => resource.write('over the app port') });
    const port = await listen(server);
    const { ws, frames } = protocolWebSocket(`http://127.0.0.1:${port}/live`);
    await frames.waitFor((frame) => frame.includes('over the app port'));
    expect(await (await fetch(`http://127.0.0.1:${port}/other`)).text()).toBe('the app');
    ws.close();
    await atmosphere.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
});

describe('node:http, node:https and node:http2 servers of the application', () => {
  let dir: string;
  let key: Buffer;
  let cert: Buffer;
  beforeAll(() => {
    // A self-signed certificate for 127.0.0.1, made for this run.
    dir = mkdtempSync(join(tmpdir(), 'atmosphere-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    key = readFileSync(join(dir, 'key.pem'));
    cert = readFileSync(join(dir, 'cert.pem'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('node:http: WebSocket, SSE and long-polling on the handler’s server; its own requests untouched', async () => {
    const server = createHttpServer((_request, response) => response.end('plain handler'));
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('hello http') });
    const base = `http://127.0.0.1:${await listen(server)}`;
    for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
      const client = await connectTestClient(`${base}/live`, transport);
      expect(await client.messages.next()).toBe('hello http');
      await client.close();
    }
    expect(await (await fetch(`${base}/elsewhere`)).text()).toBe('plain handler');
    await atmosphere.close();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('the host check asks the server for its address once per listen, not per request, and follows it to a new port', async () => {
    const server = createHttpServer();
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('hello') });
    let asked = 0;
    const address = server.address.bind(server);
    server.address = () => {
      asked++;
      return address();
    };
    try {
      for (const round of [1, 2]) {
        const port = await listen(server);
        asked = 0;
        // Loopback: the allowed hosts are the loopback names on the port it listens on.
        for (let i = 0; i < 20; i++) {
          const poll = await fetch(
            `http://127.0.0.1:${port}/live?X-Atmosphere-Transport=long-polling&X-Atmosphere-tracking-id=0`,
          );
          expect(poll.status, `round ${round}`).toBe(200);
          await poll.text();
        }
        expect(asked, `round ${round}`).toBe(1);
        server.closeAllConnections();
        await new Promise((resolve) => server.close(resolve));
      }
    } finally {
      await atmosphere.close();
    }
  });

  test('node:https with a self-signed certificate: wss and SSE over TLS', async () => {
    const server = createHttpsServer({ key, cert }, (_request, response) => response.end('tls handler'));
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('hello https') });
    const base = `https://127.0.0.1:${await listen(server)}`;
    const { ws, frames } = protocolWebSocket(`${base}/live`, cert);
    await frames.waitFor((frame) => frame.includes('hello https'));
    const sse = new Inbox<string>();
    const request = httpsGet(protocolUrl(`${base}/live`, 'sse'), { ca: cert }, (response) => {
      sse.push(`status ${response.statusCode} ${response.headers['content-type']}`);
      response.setEncoding('utf8').on('data', (chunk: string) => sse.push(chunk));
    });
    request.on('error', (error) => sse.fail(error));
    expect(await sse.next()).toBe('status 200 text/event-stream; charset=utf-8');
    await sse.waitFor((chunk) => chunk.includes('hello https'));
    ws.close();
    await atmosphere.close();
    request.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  test('node:http2 compatibility server (allowHTTP1): SSE over HTTP/2, WebSocket over its HTTP/1.1', async () => {
    const server = createSecureServer({ key, cert, allowHTTP1: true }, (_request, response) =>
      response.end('h2 handler'),
    );
    const atmosphere = await createAtmosphere({ server, logger: silentLogger, autoload: false });
    atmosphere.managed('/live', { onReady: (resource) => resource.write('hello h2') });
    const origin = `https://127.0.0.1:${await listen(server)}`;
    const { ws, frames } = protocolWebSocket(`${origin}/live`, cert);
    await frames.waitFor((frame) => frame.includes('hello h2'));

    const session = connect(origin, { ca: cert });
    const sse = new Inbox<string>();
    const url = new URL(protocolUrl(`${origin}/live`, 'sse'));
    const stream = session.request({ ':path': `${url.pathname}${url.search}` });
    stream.on('response', (headers) => {
      // No connection-specific header may go out on HTTP/2 (a stream would be reset for it).
      expect(headers['connection']).toBeUndefined();
      sse.push(`status ${headers[':status']} ${headers['content-type']}`);
    });
    stream.setEncoding('utf8').on('data', (chunk: string) => sse.push(chunk));
    stream.on('error', (error: Error) => sse.fail(error));
    expect(await sse.next()).toBe('status 200 text/event-stream; charset=utf-8');
    await sse.waitFor((chunk) => chunk.includes('hello h2'));

    const other = session.request({ ':path': '/elsewhere' });
    const body = new Inbox<string>();
    other.setEncoding('utf8').on('data', (chunk: string) => body.push(chunk));
    expect(await body.next()).toBe('h2 handler');

    ws.close();
    await atmosphere.close();
    session.close();
    await new Promise((resolve) => server.close(resolve));
  });
});
