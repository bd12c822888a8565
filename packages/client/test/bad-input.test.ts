import {
  createServer,
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { WebSocketServer } from 'ws';
import { Atmosphere, type ClientTransportName, type Subscription } from '../src/index.ts';
import { record } from './helpers.ts';

/**
 * A server that speaks the protocol badly: a valid handshake (for new clients), then `body`. It is not
 * Atmosphere — it stands for a broken proxy or a bug — and counts the connections it gets.
 */
async function badServer(
  body: (framed: boolean) => string,
): Promise<{ url: string; connections: string[]; close(): Promise<void> }> {
  const connections: string[] = [];
  const handshake = (url: URL): string => {
    if (url.searchParams.get('X-Atmosphere-tracking-id') !== '0') return '';
    return '10|abc-1|0|X|';
  };
  const http: HttpServer = createServer((request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url!, 'http://x');
    const transport = url.searchParams.get('X-Atmosphere-Transport') ?? '';
    if (request.method === 'POST' || transport === 'close') {
      response.end();
      return;
    }
    connections.push(transport);
    const text = handshake(url) + body(true);
    if (transport === 'sse') {
      response.writeHead(200, { 'Content-Type': 'text/event-stream' });
      response.write(`data:${handshake(url)}\r\n\r\n`);
      response.write(`data:${body(true)}\r\n\r\n`);
    } else if (transport === 'streaming') {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.write(' '.repeat(2048) + '\n' + text);
    } else {
      response.writeHead(200, { 'Content-Type': 'text/plain' });
      response.end(' '.repeat(2048) + '\n' + text);
    }
  });
  const wss = new WebSocketServer({ server: http });
  wss.on('connection', (ws, request) => {
    connections.push('websocket');
    const url = new URL(request.url!, 'http://x');
    const hello = handshake(url);
    if (hello) ws.send(hello);
    ws.send(body(true));
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/feed`,
    connections,
    close: async () => {
      for (const client of wss.clients) client.terminate();
      wss.close();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

let close: (() => Promise<void>) | undefined;
let subscription: Subscription | undefined;
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  await close?.();
  close = undefined;
});

const CASES = [
  ['garbage', () => '5|validnot a frame at all', 'PROTOCOL_ERROR', ['valid']],
  ['a wrong length prefix', () => '3|hello6|world!', 'PROTOCOL_ERROR', []],
  ['an oversized message', () => `${10_000_000}|${'x'.repeat(100)}`, 'MESSAGE_TOO_LARGE', []],
] as const;

describe.each(['websocket', 'sse', 'streaming', 'long-polling'] as const)(
  '%s',
  (transport: ClientTransportName) => {
    test.each(CASES)(
      '%s: an error event, then bounded reconnects — no crash, no loop',
      async (_name, body, code, before) => {
        const server = await badServer(body);
        close = server.close;
        subscription = new Atmosphere().subscribe({
          url: server.url,
          transport,
          fallbackTransport: [],
          reconnectInterval: 5,
          maxReconnectInterval: 10,
          maxReconnectOnClose: 3,
          maxMessageSize: 1_000_000,
        });
        const recorder = record(subscription);
        await recorder.events.waitFor('failureToReconnect');
        expect(recorder.events.items).toContain(`error:${code}`);
        expect(recorder.errors.find((error) => error.startsWith(code))).toMatch(
          code === 'PROTOCOL_ERROR' ? /Malformed frame/ : /maxMessageSize/,
        );
        // The first connection and three reconnects: long-polling makes one request per connection here
        // (the body ends each poll in error), the others one connection each.
        expect(server.connections.length).toBe(4);
        expect(recorder.events.count('reconnect')).toBe(3);
        expect(subscription.state).toBe('error');
        // Messages before the bad frame in the same chunk are not shown (the chunk is corrupt).
        expect(recorder.messages.items.filter((m) => !before.includes(m as never))).toEqual([]);
      },
    );
  },
);

test('a server that sends no handshake when one was asked for: PROTOCOL_ERROR naming the option', async () => {
  const http = createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    response.write('5|hello');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  close = async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
  subscription = new Atmosphere().subscribe({
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/x`,
    transport: 'streaming',
    fallbackTransport: [],
    reconnect: false,
  });
  const recorder = record(subscription);
  await recorder.events.waitFor('error');
  expect(recorder.errors[0]).toMatch(
    /PROTOCOL_ERROR: Expected the Atmosphere handshake.*enableProtocol: false/,
  );
  expect(subscription.state).toBe('error');
  expect(recorder.messages.items).toEqual([]);
});

test('a server that accepts then drops every connection at once cannot make the client loop', async () => {
  const connections: string[] = [];
  const http = createServer((request, response) => {
    connections.push('streaming');
    response.writeHead(200, { 'Content-Type': 'text/plain' });
    // A valid handshake for new clients, then the connection ends: "opened", never healthy.
    const first = new URL(request.url!, 'http://x').searchParams.get('X-Atmosphere-tracking-id') === '0';
    response.end(first ? '10|abc-1|0|X|' : '');
  });
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
  close = async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => http.close(() => resolve()));
  };
  subscription = new Atmosphere().subscribe({
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/x`,
    transport: 'streaming',
    fallbackTransport: [],
    reconnectInterval: 5,
    maxReconnectInterval: 10,
    maxReconnectOnClose: 4,
  });
  const recorder = record(subscription);
  await recorder.events.waitFor('failureToReconnect');
  // Each short-lived connection counts as a failed attempt: the first one and four reconnects.
  expect(connections.length).toBe(5);
  expect(recorder.events.count('open') + recorder.events.count('reopen')).toBe(5);
  expect(subscription.state).toBe('error');
});
