import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, expect, test, vi } from 'vitest';
import type { Atmosphere, AtmosphereResource } from '../src/index.ts';
import { connectTestClient, startTestAtmosphere } from '../src/testing/index.ts';
import type { WebSocketConnection } from '../src/transports/websocket.ts';
import { countWrites } from './socket-writes.ts';
import { internal } from './internals.ts';

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere({ rateLimit: false });
  atmosphere.managed('/burst/{name}', {});
});
afterAll(async () => {
  await atmosphere.close();
});

/** The server side socket of a resource's WebSocket. */
function serverSocket(resource: AtmosphereResource): Socket {
  const connection = internal(resource).connection as WebSocketConnection;
  return (connection.ws as unknown as { _socket: Socket })._socket;
}

const nextTick = () => new Promise<void>((resolve) => process.nextTick(resolve));

test('a burst written in one turn reaches the socket in a few writes, complete and in order', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/tokens'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  const writes = countWrites(serverSocket(resource));
  const total = 2000;
  let queued = 0;
  for (let i = 0; i < total; i++) {
    resource.write(`{"type":"streaming-text","data":"token ${i}","sessionId":"s","seq":${i}}`);
    queued = Math.max(queued, resource.queue.pending.length);
  }
  const received = await client.messages.waitForCount(total);
  expect(received.map((m) => (JSON.parse(m) as { seq: number }).seq)).toEqual(
    Array.from({ length: total }, (_, i) => i),
  );
  // Frames go out in batches (at most 64 frames, below the high-water mark, one writev each), not one
  // write per frame; and batching never makes the socket look busy, so nothing queues behind it.
  expect(writes.count).toBeLessThanOrEqual(Math.ceil(total / 64) + 2);
  expect(queued).toBe(0);
  expect(resource.state).toBe('connected');
  await client.close();
});

test('a burst from an async iterator (an AI stream handing over the tokens of one network read) is coalesced too', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/iterated'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  await nextTick();
  const writes = countWrites(serverSocket(resource));
  const total = 200;
  async function* tokens(): AsyncGenerator<string> {
    for (let i = 0; i < total; i++) yield `token ${i}`;
  }
  for await (const token of tokens()) resource.write(token);
  const received = await client.messages.waitForCount(total);
  expect(received).toEqual(Array.from({ length: total }, (_, i) => `token ${i}`));
  expect(writes.count).toBeLessThanOrEqual(Math.ceil(total / 64) + 2);
  await client.close();
});

test('a write after a pause goes out at once; one soon after another is held with it until the turn ends', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/turns'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  const socket = serverSocket(resource);
  await nextTick();
  // The clock that tells a burst from a pause, under the test's control (sockets and timers stay real).
  vi.useFakeTimers({ toFake: ['performance'] });
  try {
    resource.write('first');
    expect(socket.writableCorked).toBe(0);
    resource.write('second');
    expect(socket.writableCorked).toBe(1);
    await nextTick();
    expect(socket.writableCorked).toBe(0);
    // Less than a millisecond later, in another turn: still a burst, held until that turn ends.
    vi.advanceTimersByTime(0.5);
    resource.write('third');
    expect(socket.writableCorked).toBe(1);
    await nextTick();
    expect(socket.writableCorked).toBe(0);
    // After a pause, a lone write goes out at once and leaves nothing to do at the end of its turn.
    vi.advanceTimersByTime(5);
    resource.write('fourth');
    expect(socket.writableCorked).toBe(0);
  } finally {
    vi.useRealTimers();
  }
  expect(await client.messages.take(4)).toEqual(['first', 'second', 'third', 'fourth']);
  await client.close();
});

test('large frames in one turn are never held up to the high-water mark (held bytes never look like congestion)', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/large'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  const socket = serverSocket(resource);
  const big = 'y'.repeat(socket.writableHighWaterMark / 4);
  const total = 12;
  let held = 0;
  for (let i = 0; i < total; i++) {
    resource.write(`${i}:${big}`);
    // While frames are held back, the buffer stays below the mark; past it they go out (or, when the kernel
    // is full, the socket is really congested and the resource queues, as without holding).
    if (socket.writableCorked > 0) {
      held++;
      expect(socket.writableLength).toBeLessThan(socket.writableHighWaterMark);
    }
  }
  expect(held).toBeGreaterThan(0);
  const received = await client.messages.waitForCount(total);
  expect(received.map((m) => Number(m.slice(0, m.indexOf(':'))))).toEqual(
    Array.from({ length: total }, (_, i) => i),
  );
  expect(received.every((m, i) => m === `${i}:${big}`)).toBe(true);
  await client.close();
});

test('a close in the same turn as a burst comes after every frame of it', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/close'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  for (let i = 0; i < 300; i++) resource.write(`m${i}`);
  void resource.close(1000, 'done');
  await client.ended;
  expect(client.messages.items).toEqual(Array.from({ length: 300 }, (_, i) => `m${i}`));
  expect(resource.state).toBe('closed');
});

test('a backlog written at once (a resume, a queue after a drain) leaves in buffers up to the high-water mark, complete and in order', async () => {
  const client = await connectTestClient(atmosphere.url('/burst/backlog'), 'websocket');
  const resource = internal(atmosphere.resource(client.trackingId))!;
  const socket = serverSocket(resource);
  await nextTick();
  // Within the client's bounds (1 000 messages), so the backlog is written, not cut.
  const total = 900;
  resource.hold();
  for (let i = 0; i < total; i++) resource.write(`{"seq":${i},"text":"a queued message"}`);
  expect(resource.queue.pending.length).toBe(total);
  const writes = countWrites(socket);
  const lengths: number[] = [];
  const write = socket.write.bind(socket);
  (socket as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk) => {
    lengths.push(chunk.length);
    // Every buffer leaves the socket below its high-water mark: gathering never makes it look congested.
    expect(socket.writableLength + chunk.length).toBeLessThan(socket.writableHighWaterMark);
    return write(chunk);
  };
  resource.release();
  const received = await client.messages.waitForCount(total);
  expect(received.map((m) => (JSON.parse(m) as { seq: number }).seq)).toEqual(
    Array.from({ length: total }, (_, i) => i),
  );
  // One stream write per high-water mark of frames, not one per frame (nor one per 64 frames).
  const bytes = lengths.reduce((sum, n) => sum + n, 0);
  expect(bytes).toBeGreaterThan(total * 30);
  expect(writes.count).toBeLessThanOrEqual(Math.ceil(bytes / (socket.writableHighWaterMark / 2)));
  expect(resource.queue.pending.length).toBe(0);
  await client.close();
});

test.each(['sse', 'streaming'] as const)(
  'a backlog written at once over %s leaves in a few chunks of the response, complete and in order',
  async (transport) => {
    const client = await connectTestClient(atmosphere.url(`/burst/backlog-${transport}`), transport);
    const resource = internal(atmosphere.resource(client.trackingId))!;
    const response = (internal(resource).connection as unknown as { response: ServerResponse }).response;
    await nextTick();
    const total = 900;
    resource.hold();
    for (let i = 0; i < total; i++) resource.write(`{"seq":${i},"text":"a queued message"}`);
    expect(resource.queue.pending.length).toBe(total);
    let writes = 0;
    const write = response.write.bind(response) as (chunk: Buffer) => boolean;
    (response as unknown as { write: (chunk: Buffer) => boolean }).write = (chunk) => {
      writes++;
      return write(chunk);
    };
    resource.release();
    const received = await client.messages.waitForCount(total);
    expect(received.map((m) => (JSON.parse(m) as { seq: number }).seq)).toEqual(
      Array.from({ length: total }, (_, i) => i),
    );
    // One chunk of the response per high-water mark of messages, not one per message.
    expect(writes).toBeLessThanOrEqual(2);
    expect(resource.queue.pending.length).toBe(0);
    await client.close();
  },
);

test('a broadcast to many WebSocket clients reads the clock once, not once per recipient', async () => {
  atmosphere.managed('/fan', {});
  const clients = await Promise.all(
    Array.from({ length: 20 }, () => connectTestClient(atmosphere.url('/fan'), 'websocket')),
  );
  await expect.poll(() => atmosphere.broadcasters.find('/fan')?.size ?? 0).toBe(clients.length);
  await nextTick();
  const reads = vi.spyOn(performance, 'now');
  try {
    await atmosphere.broadcast('/fan', 'one');
    await atmosphere.broadcast('/fan', 'two');
    // Each broadcast's first write reads it; the other 19 recipients share that time.
    expect(reads.mock.calls.length).toBeLessThanOrEqual(4);
  } finally {
    reads.mockRestore();
  }
  for (const client of clients) expect(await client.messages.take(2)).toEqual(['one', 'two']);
  await Promise.all(clients.map((client) => client.close()));
});
