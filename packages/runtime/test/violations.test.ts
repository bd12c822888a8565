import { randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import { type Atmosphere, type AtmosphereOptions, createAtmosphere } from '../src/index.ts';
import { silentLogger } from '../src/logger.ts';
import type { DisconnectReason } from '../src/spi/resource.ts';
import {
  connectTestClient,
  eventually,
  protocolUrl,
  startTestAtmosphere,
  type TestClient,
} from '../src/testing/index.ts';

/**
 * A client that breaks the WebSocket protocol is ended for good at once: its resource does not wait out the
 * reconnect grace period (60 s here, the default) as an "away" resource a flood could pile up.
 */
let atmosphere: Atmosphere;
let bystander: TestClient;
const disconnects: DisconnectReason[] = [];
const MAX_MESSAGE = 64 * 1024;
/** Well below the 60 s grace: "at once". */
const AT_ONCE_MS = 2_000;

beforeAll(async () => {
  atmosphere = await startTestAtmosphere({
    maxMessageBytes: MAX_MESSAGE,
    rateLimit: { messagesPerSecond: 20, burst: 20 },
    reconnectGraceMs: 60_000,
  });
  atmosphere.managed('/chat', {
    onDisconnect(_resource, reason) {
      disconnects.push(reason);
    },
  });
  bystander = await connectTestClient(atmosphere.url('/chat'), 'websocket');
});

afterAll(async () => {
  await bystander.close();
  await atmosphere.close();
});

function resourceCount(): number {
  const { connected, away } = atmosphere.describe().resources;
  return connected + away;
}

/** The resource count is back to the bystander alone, with nobody away, well within the grace period. */
async function backToBaseline(): Promise<void> {
  await eventually(
    () => resourceCount() === 1 && atmosphere.describe().resources.away === 0,
    'the resource count back to its baseline',
    AT_ONCE_MS,
  );
  expect(atmosphere.resource(bystander.trackingId)?.state).toBe('connected');
  const marker = `alive-${Math.random()}`;
  await atmosphere.broadcast('/chat', marker);
  await bystander.messages.waitFor((m) => m === marker);
}

/** A real ws client, open and past its handshake (whose first field is the tracking id). */
async function openWs(): Promise<WebSocket & { trackingId: string }> {
  const ws = new WebSocket(protocolUrl(atmosphere.url('/chat'), 'websocket', { trackMessageLength: false }));
  const trackingId = await new Promise<string>((resolve, reject) => {
    ws.once('message', (data: Buffer) => resolve(data.toString().split('|')[0]!));
    ws.once('error', reject);
  });
  return Object.assign(ws, { trackingId });
}

function closeCode(ws: WebSocket): Promise<number> {
  return new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
}

/** A masked client frame, built by hand (any opcode, any payload, RSV bits, FIN). */
function frame(opcode: number, payload: Buffer, options: { fin?: boolean; rsv?: number } = {}): Buffer {
  const first = ((options.fin ?? true) ? 0x80 : 0) | ((options.rsv ?? 0) << 4) | opcode;
  const mask = randomBytes(4);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ mask[i % 4]!));
  const length = payload.length;
  const header =
    length < 126
      ? Buffer.from([first, 0x80 | length])
      : Buffer.from([first, 0x80 | 126, length >> 8, length & 0xff]);
  return Buffer.concat([header, mask, masked]);
}

/**
 * A raw TCP socket that does the WebSocket handshake itself (no library between the test and the server) and
 * then writes `bytes`. Resolves with the close code the server sent (0 when none came) once the server
 * dropped the connection.
 */
function rawViolation(bytes: Buffer): Promise<number> {
  const address = atmosphere.address()!;
  const url = new URL(protocolUrl(atmosphere.url('/chat'), 'websocket'));
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(address.port, address.address, () => {
      socket.write(
        `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\n` +
          `Connection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\n` +
          'Sec-WebSocket-Version: 13\r\n\r\n',
      );
    });
    let received = Buffer.alloc(0);
    let upgraded = false;
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (!upgraded) {
        const end = received.indexOf('\r\n\r\n');
        if (end === -1) return;
        if (!received.subarray(0, 12).toString().startsWith('HTTP/1.1 101')) {
          reject(new Error(`upgrade refused: ${received.toString().split('\r\n')[0]}`));
          return;
        }
        upgraded = true;
        received = received.subarray(end + 4);
        // The handshake frame arrives first: only then does the violation follow, on an attached resource.
        waitHandshake();
      } else waitHandshake();
    });
    let sent = false;
    const waitHandshake = (): void => {
      if (sent || received.length === 0) return;
      sent = true;
      socket.write(bytes);
    };
    socket.on('close', () => resolve(closeFrameCode(received)));
    socket.on('error', () => resolve(closeFrameCode(received)));
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error('the server never dropped the connection'));
    });
  });
}

/** The code of the first close frame (opcode 8) in what the server sent, or 0. */
function closeFrameCode(data: Buffer): number {
  let offset = 0;
  while (offset + 2 <= data.length) {
    const opcode = data[offset]! & 0x0f;
    let length = data[offset + 1]! & 0x7f;
    let start = offset + 2;
    if (length === 126) {
      length = data.readUInt16BE(start);
      start += 2;
    } else if (length === 127) {
      length = Number(data.readBigUInt64BE(start));
      start += 8;
    }
    if (opcode === 8) return length >= 2 ? data.readUInt16BE(start) : 0;
    offset = start + length;
  }
  return 0;
}

describe('a protocol violation ends the resource at once, not after the reconnect grace', () => {
  test.each<[string, (ws: WebSocket) => void, number]>([
    [
      'bad UTF-8 in a text frame (1007)',
      (ws) => (ws as unknown as { _socket: Socket })._socket.write(frame(0x1, Buffer.from([0x68, 0xff]))),
      1007,
    ],
    ['a message over maxMessageBytes (1009)', (ws) => ws.send('x'.repeat(MAX_MESSAGE + 1)), 1009],
    [
      'a flood over the rate limit (1008)',
      (ws) => {
        for (let i = 0; i < 60; i++) ws.send('{}');
      },
      1008,
    ],
    [
      'an invalid opcode (1002)',
      (ws) => (ws as unknown as { _socket: Socket })._socket.write(frame(0x3, Buffer.from('hi'))),
      1002,
    ],
  ])('real ws client: %s', async (_name, violate, code) => {
    const before = disconnects.length;
    const ws = await openWs();
    expect(resourceCount()).toBe(2);
    const closed = closeCode(ws);
    violate(ws);
    expect(await closed).toBe(code);
    await backToBaseline();
    expect(disconnects.slice(before)).toEqual(['server-closed']);
  });

  test.each<[string, Buffer, number]>([
    ['an unmasked frame', Buffer.from([0x81, 0x02, 0x68, 0x69]), 1002],
    ['an invalid opcode', frame(0xb, Buffer.from('x')), 1002],
    ['RSV bits without an extension', frame(0x1, Buffer.from('x'), { rsv: 2 }), 1002],
    ['a fragmented ping', frame(0x9, Buffer.from('x'), { fin: false }), 1002],
    ['a close frame with an invalid code', frame(0x8, Buffer.from([0x03, 0xe7])), 1002],
    // Reserved codes no close frame may carry: a client cannot claim a lost network (1006) to keep its grace.
    ['a close frame claiming 1006 (no close frame)', frame(0x8, Buffer.from([0x03, 0xee])), 1002],
    ['a close frame claiming 1005 (no code)', frame(0x8, Buffer.from([0x03, 0xed])), 1002],
    ['a close frame with 1004 (reserved)', frame(0x8, Buffer.from([0x03, 0xec])), 1002],
    ['a close frame with 1015 (TLS failure)', frame(0x8, Buffer.from([0x03, 0xf7])), 1002],
    ['bad UTF-8', frame(0x1, Buffer.from([0xc3, 0x28])), 1007],
    [
      'a 64-bit length far over maxMessageBytes',
      Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]),
      1009,
    ],
    ['a continuation with nothing to continue', frame(0x0, Buffer.from('x')), 1002],
  ])('raw TCP socket: %s', async (_name, bytes, code) => {
    const before = disconnects.length;
    expect(await rawViolation(bytes)).toBe(code);
    await backToBaseline();
    expect(disconnects.slice(before)).toEqual(['server-closed']);
  });

  test('failed handshakes leave no resource behind', async () => {
    const address = atmosphere.address()!;
    const url = new URL(protocolUrl(atmosphere.url('/chat'), 'websocket'));
    const attempts = [
      // No Sec-WebSocket-Key.
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      // An unsupported version.
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 99\r\n\r\n`,
      // A foreign origin.
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nOrigin: http://evil.example\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      // Cut in the middle of the request.
      `GET ${url.pathname}${url.search} HTTP/1.1\r\nHost: ${url.host}\r\nUpgrade: webs`,
    ];
    const answers: string[] = [];
    for (const request of attempts) {
      await new Promise<void>((resolve) => {
        const socket = connect(address.port, address.address, () => {
          socket.write(request);
          if (!request.endsWith('\r\n\r\n')) socket.destroy();
        });
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('close', () => {
          answers.push(answer.split('\r\n')[0]!);
          resolve();
        });
        socket.on('error', () => resolve());
      });
      expect(resourceCount()).toBe(1);
    }
    expect(answers).toEqual([
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 400 Bad Request',
      'HTTP/1.1 403 Forbidden',
      '',
    ]);
    await backToBaseline();
  });

  test('a client that merely loses its connection still gets its grace period', async () => {
    const ws = await openWs();
    const closed = closeCode(ws);
    ws.terminate();
    await closed;
    await eventually(() => atmosphere.describe().resources.away === 1, 'the away resource');
    expect(atmosphere.resource(ws.trackingId)?.state).toBe('away');
    await atmosphere.resource(ws.trackingId)!.close();
    await backToBaseline();
  });
});

describe('close codes a client sends', () => {
  /**
   * Every code a client's close frame may carry ends its resource at once — 1002 and 1003 too: a client that
   * declares a protocol error or data it cannot take is not coming back for the same stream — but 4000.
   */
  test.each([1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 4401, 4999])(
    'a close frame with %i: the resource ends at once, client-closed',
    async (code) => {
      const before = disconnects.length;
      const ws = await openWs();
      expect(resourceCount()).toBe(2);
      const closed = closeCode(ws);
      ws.close(code);
      // The server answers the close frame with the same code.
      expect(await closed).toBe(code);
      await backToBaseline();
      expect(atmosphere.resource(ws.trackingId)).toBeUndefined();
      expect(disconnects.slice(before)).toEqual(['client-closed']);
    },
  );

  test.each<[string, (ws: WebSocket) => void, number]>([
    ['4000 (coming back)', (ws) => ws.close(4000), 4000],
    // A close frame without a code (atmosphere.js 5's close()): away for a short grace of its own.
    ['a close frame without a code (1005)', (ws) => ws.close(), 1005],
    // No close frame at all: a lost network.
    ['no close frame (1006)', (ws) => ws.terminate(), 1006],
  ])('%s: the resource is away and can come back', async (_name, close, code) => {
    const before = disconnects.length;
    const ws = await openWs();
    const closed = closeCode(ws);
    close(ws);
    expect(await closed).toBe(code);
    await eventually(() => atmosphere.describe().resources.away === 1, 'the away resource');
    expect(atmosphere.resource(ws.trackingId)?.state).toBe('away');
    expect(disconnects.slice(before)).toEqual([]);
    // It comes back with its tracking id and is the same resource, connected again.
    const back = new WebSocket(
      protocolUrl(atmosphere.url('/chat'), 'websocket', {
        trackMessageLength: false,
        trackingId: ws.trackingId,
      }),
    );
    await new Promise<void>((resolve, reject) => {
      back.once('open', () => resolve());
      back.once('error', reject);
    });
    await eventually(
      () => atmosphere.resource(ws.trackingId)?.state === 'connected',
      'the resource connected again',
    );
    expect(atmosphere.describe().resources.away).toBe(0);
    const backClosed = closeCode(back);
    back.close(1000);
    await backClosed;
    await backToBaseline();
    expect(disconnects.slice(before)).toEqual(['client-closed']);
  });
});

describe('a client that broke the protocol does not hold its socket', () => {
  /**
   * After its close frame ws half-closes the socket and waits up to 30 s (its close timeout) for the client to
   * close its side. A violator that never does would keep its socket, parser and buffers that long: 8 of
   * them, each with a different violation, must leave no socket open on the server.
   */
  test('8 violators that never close their side: every server socket is gone at once', async () => {
    const codes = await halfOpenClients({}, [
      frame(0x1, Buffer.from([0x68, 0xff])),
      Buffer.from([0x81, 0x02, 0x68, 0x69]),
      frame(0x3, Buffer.from('hi')),
      frame(0x1, Buffer.from('x'), { rsv: 2 }),
      frame(0x9, Buffer.from('x'), { fin: false }),
      frame(0x8, Buffer.from([0x03, 0xee])),
      Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]),
      frame(0x0, Buffer.from('x')),
    ]);
    expect(codes.every((code) => code === 1002 || code === 1007 || code === 1009)).toBe(true);
  });

  test('8 clients over the rate limit that never close their side: every server socket is gone at once (1008)', async () => {
    // Each sends 30 messages at once: over the rate limit (burst 5), closed with 1008 by the server.
    const burst = Buffer.concat(Array.from({ length: 30 }, (_, i) => frame(0x1, Buffer.from(`m${i}`))));
    const codes = await halfOpenClients(
      { rateLimit: { messagesPerSecond: 5, burst: 5 } },
      Array.from({ length: 8 }, () => burst),
    );
    expect(codes).toEqual(Array.from({ length: 8 }, () => 1008));
  });
});

/**
 * Raw TCP clients of a server of their own, each upgrading and then writing its `bytes`, that keep their side
 * open after the server's FIN, as a hostile client would. Resolves with the close code each got, once every
 * server socket is gone within {@link AT_ONCE_MS} of the close frames (timed from them: what follows, the FIN
 * and the socket's end, must not wait) and no resource is left.
 */
async function halfOpenClients(
  options: Partial<AtmosphereOptions>,
  violations: readonly Buffer[],
): Promise<number[]> {
  const server = createServer();
  const own = await createAtmosphere({
    server,
    logger: silentLogger,
    autoload: false,
    maxMessageBytes: MAX_MESSAGE,
    ...options,
  });
  own.managed('/chat', {});
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  // The server's open TCP sockets, counted as they open and close.
  let open = 0;
  server.on('connection', (socket: Socket) => {
    open++;
    socket.once('close', () => open--);
  });
  const sockets: Socket[] = [];
  try {
    const closed = violations.map(
      (bytes) =>
        new Promise<number>((resolve, reject) => {
          const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => {
            socket.write(
              `GET /chat?X-Atmosphere-tracking-id=0&X-Atmosphere-Transport=websocket HTTP/1.1\r\n` +
                `Host: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
                `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
            );
          });
          sockets.push(socket);
          let received = Buffer.alloc(0);
          let upgraded = false;
          socket.on('data', (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            if (!upgraded) {
              const end = received.indexOf('\r\n\r\n');
              if (end === -1) return;
              upgraded = true;
              received = received.subarray(end + 4);
              socket.write(bytes);
              return;
            }
            let code: number;
            try {
              code = closeFrameCode(received);
            } catch {
              return; // a frame not complete yet
            }
            if (code !== 0) resolve(code);
          });
          socket.on('error', () => undefined);
          socket.setTimeout(10_000, () => reject(new Error('the server never answered the violation')));
        }),
    );
    const codes = await Promise.all(closed);
    expect(sockets.every((socket) => !socket.destroyed)).toBe(true);
    // Each client still holds its side open; the server must not hold its own.
    await eventually(() => open === 0, 'every server socket closed', AT_ONCE_MS);
    expect(own.describe().resources.connected + own.describe().resources.away).toBe(0);
    return codes;
  } finally {
    for (const socket of sockets) socket.destroy();
    await own.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
