import { afterAll, beforeAll, expect, test } from 'vitest';
import { WebSocket } from 'ws';
import type { Atmosphere } from '../src/index.ts';
import {
  connectTestClient,
  eventually,
  Inbox,
  protocolUrl,
  startTestAtmosphere,
} from '../src/testing/index.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ maxMessageBytes: 256 * 1024 });
  atmosphere.managed('/frames', {});
});
afterAll(async () => {
  await atmosphere.close();
});

// Payload lengths around each WebSocket length encoding (7-bit, 16-bit, 64-bit), in ASCII and multi-byte text.
const SIZES = [0, 1, 125, 126, 127, 65_535, 65_536, 70_000];

test('frames built once per broadcast carry every length encoding, text and binary, to real ws clients', async () => {
  const framed = await connectTestClient(atmosphere.url('/frames'), 'websocket');
  const plain = new WebSocket(
    protocolUrl(atmosphere.url('/frames'), 'websocket', { trackMessageLength: false }),
  );
  const plainMessages = new Inbox<string | Buffer>();
  plain.on('message', (data: Buffer, isBinary: boolean) =>
    plainMessages.push(isBinary ? data : data.toString('utf8')),
  );
  await plainMessages.next(); // the handshake
  const sent: string[] = [];
  for (const size of SIZES) {
    sent.push('a'.repeat(size) + (size > 0 ? '' : 'ø'));
    sent.push('é'.repeat(Math.ceil(size / 2)) + '|');
  }
  const binary = Uint8Array.from({ length: 70_000 }, (_, i) => i % 251);
  for (const message of sent) await atmosphere.broadcast('/frames', message);
  await atmosphere.broadcast('/frames', binary);
  expect((await framed.messages.waitForCount(sent.length)).slice(0, sent.length)).toEqual(sent);
  const received = await plainMessages.take(sent.length + 1);
  expect(received.slice(0, sent.length)).toEqual(sent);
  const last = received.at(-1);
  expect(Buffer.isBuffer(last)).toBe(true);
  expect([...(last as Buffer)]).toEqual([...binary]);
  await framed.close();
  plain.close();
});

test('a ping from the client is answered with a pong carrying its data, and the connection stays usable', async () => {
  const ws = new WebSocket(protocolUrl(atmosphere.url('/frames'), 'websocket'));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const inbox = new Inbox<string>();
  ws.on('message', (data: Buffer) => inbox.push(data.toString('utf8')));
  for (const payload of ['one', 'two', '']) {
    const pong = new Promise<string>((resolve) => ws.once('pong', (data) => resolve(data.toString('utf8'))));
    ws.ping(payload);
    expect(await pong).toBe(payload);
  }
  await eventually(() => atmosphere.describe().resources.connected > 0, 'the client connected');
  await atmosphere.broadcast('/frames', 'after the pings');
  expect(await inbox.next()).toContain('after the pings');
  ws.close();
});
