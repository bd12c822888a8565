import { once } from 'node:events';
import { type AddressInfo, createConnection, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, test } from 'vitest';
import { checkDelivery, Inbox, startFaultProxy, type FaultProxy } from '../src/testing/index.ts';

// A TCP echo server behind the fault proxy, with real sockets.
let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function echoBehindProxy(): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  const echo = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  echo.listen(0, '127.0.0.1');
  await once(echo, 'listening');
  const proxy = await startFaultProxy((echo.address() as AddressInfo).port);
  cleanup.push(async () => {
    await proxy.close();
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => echo.close(() => resolve()));
  });
  return proxy;
}

async function connect(
  port: number,
  connected = true,
): Promise<{ socket: Socket; data: Inbox<string>; closed: Promise<unknown> }> {
  const socket = createConnection({ port, host: '127.0.0.1' });
  const data = new Inbox<string>();
  socket.on('data', (chunk: Buffer) => data.push(chunk.toString()));
  socket.on('error', () => undefined);
  const closed = new Promise((resolve) => socket.once('close', resolve));
  if (connected) await new Promise((resolve) => socket.once('connect', resolve));
  cleanup.push(async () => void socket.destroy());
  return { socket, data, closed };
}

describe('the fault proxy', () => {
  test('forwards both ways; stall holds the bytes without closing, resume delivers them in order', async () => {
    const proxy = await echoBehindProxy();
    const { socket, data } = await connect(proxy.port);
    socket.write('one');
    expect(await data.next()).toBe('one');
    proxy.stall();
    socket.write('two');
    socket.write('three');
    // A connection opened during the stall is held too, and released with the others.
    const other = await connect(proxy.port);
    other.socket.write('x');
    proxy.resume();
    expect(await other.data.next()).toBe('x');
    expect((await data.waitFor((d) => d.endsWith('three'))) !== undefined).toBe(true);
    expect(data.items.join('')).toBe('onetwothree');
    expect(proxy.connections).toBe(2);
  });

  test('cut resets every connection; partition refuses new ones until heal', async () => {
    const proxy = await echoBehindProxy();
    const first = await connect(proxy.port);
    proxy.cut();
    await first.closed;
    expect(proxy.connections).toBe(0);
    proxy.partition();
    const refused = await connect(proxy.port, false);
    await refused.closed;
    proxy.heal();
    const healed = await connect(proxy.port);
    healed.socket.write('back');
    expect(await healed.data.next()).toBe('back');
  });
});

describe('checkDelivery', () => {
  test('names lost, duplicated and reordered frames; signalled ones are not lost', () => {
    expect(checkDelivery({ sent: 6, received: [1, 2, 2, 5, 4], signalled: [3] })).toEqual({
      lost: [6],
      duplicated: [2],
      reordered: [4],
    });
    expect(checkDelivery({ sent: 3, received: [1, 2, 3] })).toEqual({
      lost: [],
      duplicated: [],
      reordered: [],
    });
  });
});
