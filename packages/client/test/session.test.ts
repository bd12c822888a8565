import type { Atmosphere as Server } from '@atmosphere/runtime';
import { MemorySessionStore, type SessionStore } from '@atmosphere/runtime/spi';
import { Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type SessionEvent, type Subscription } from '../src/index.ts';

let server: Server | undefined;
let subscription: Subscription | undefined;
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  await server?.close({ timeoutMs: 0 });
  server = undefined;
});

/**
 * A server whose session store is `store`, which outlives the server (as a durable store's file would): the
 * server's close does not close it, so a restart with the same store finds its sessions.
 */
async function start(store: MemorySessionStore, port = 0): Promise<Server> {
  const kept: SessionStore = {
    name: 'kept',
    durable: true,
    shared: false,
    limits: store.limits,
    create: (data) => store.create(data),
    get: (token) => store.get(token),
    update: (token, changes) => store.update(token, changes),
    touch: (token) => store.touch(token),
    delete: (token) => store.delete(token),
    close: () => Promise.resolve(),
  };
  const atmosphere = await startTestAtmosphere({
    port,
    providers: [
      { kind: 'session-store', name: 'kept', priority: 5, isAvailable: () => true, create: () => kept },
    ],
  });
  atmosphere.managed('/echo', { onMessage: (message) => message }, { codec: 'text' });
  return atmosphere;
}

describe.each(['websocket', 'sse', 'long-polling'] as const)('durable-session token over %s', (transport) => {
  test('kept in memory by default, presented on reconnect: the restarted server resumes the session', async () => {
    const store = new MemorySessionStore();
    server = await start(store);
    const port = server.address()!.port;
    const sessions = new Inbox<SessionEvent>();
    const messages = new Inbox<string>();
    subscription = new Atmosphere().subscribe(
      {
        url: server.url('/echo'),
        transport,
        fallbackTransport: [],
        reconnectInterval: 20,
        maxReconnectInterval: 100,
      },
      { session: (event) => sessions.push(event), message: (message) => messages.push(message.text) },
    );
    const created = await sessions.next();
    expect(created.status).toBe('created');
    expect(created.refused).toBeUndefined();
    subscription.push('one');
    // The session frame is not an application message, nor counted as one.
    expect(await messages.next()).toBe('one');
    expect(subscription.status().received).toBe(1);
    // Restart on the same port with the same store: the client comes back with its token.
    await server.close({ timeoutMs: 0 });
    server = await start(store, port);
    const resumed = await sessions.next(10_000);
    expect(resumed).toMatchObject({ token: created.token, status: 'resumed' });
    subscription.push('two');
    expect(await messages.next()).toBe('two');
  });

  test('a restarted server that lost the session refuses the token in band; the client goes on with a new one', async () => {
    server = await start(new MemorySessionStore());
    const port = server.address()!.port;
    const sessions = new Inbox<SessionEvent>();
    const messages = new Inbox<string>();
    subscription = new Atmosphere().subscribe(
      {
        url: server.url('/echo'),
        transport,
        fallbackTransport: [],
        reconnectInterval: 20,
        maxReconnectInterval: 100,
      },
      { session: (event) => sessions.push(event), message: (message) => messages.push(message.text) },
    );
    const created = await sessions.next();
    await server.close({ timeoutMs: 0 });
    server = await start(new MemorySessionStore(), port);
    const replaced = await sessions.next(10_000);
    expect(replaced).toMatchObject({ status: 'created', refused: 'SESSION_INVALID' });
    expect(replaced.token).not.toBe(created.token);
    subscription.push('after');
    expect(await messages.next()).toBe('after');
  });
});

test('session: false asks for no session', async () => {
  server = await start(new MemorySessionStore());
  const sessions = new Inbox<SessionEvent>();
  const messages = new Inbox<string>();
  subscription = new Atmosphere().subscribe(
    { url: server.url('/echo'), transport: 'websocket', session: false },
    { session: (event) => sessions.push(event), message: (message) => messages.push(message.text) },
  );
  subscription.push('plain');
  expect(await messages.next()).toBe('plain');
  expect(sessions.items).toEqual([]);
});
