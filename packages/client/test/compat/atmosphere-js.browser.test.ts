import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { launchChromium } from '../browser/chromium.ts';

/*
 * The published atmosphere.js 5 (npm, unmodified: its browser bundle as shipped) in Chromium against the real
 * server: messages, a server-side cut and the reconnect after it, idle with heartbeats, close, rooms and AI
 * streaming, on every transport. One browser, one page and one server for the file; the page reaches the
 * server through a TCP proxy the test can cut, as a failing network or proxy would.
 */

const TRANSPORTS = ['websocket', 'sse', 'long-polling', 'streaming'] as const;

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>loading</title></head><body>
<script>
// Not part of atmosphere.js: counts the page's POSTs still in flight, so that the test cuts the network only
// once each push has been answered (a browser may send again a POST whose answer a cut swallowed).
window.postsInFlight = 0;
const pageFetch = window.fetch.bind(window);
window.fetch = (input, init) => {
  if (!init || init.method !== 'POST') return pageFetch(input, init);
  window.postsInFlight++;
  return pageFetch(input, init).finally(() => window.postsInFlight--);
};
</script>
<script src="/compat/atmosphere.global.js"></script>
<script>
const base = (transport) => ({
  transport,
  trackMessageLength: true,
  enableProtocol: true,
  reconnect: true,
  reconnectInterval: 100,
  maxReconnectOnClose: 20,
});
window.clients = {};
window.connect = async (name, path, transport, extra) => {
  const state = { messages: [], events: [], subscription: null, atmosphere: new Atmosphere({ logLevel: 'silent' }) };
  window.clients[name] = state;
  state.subscription = await state.atmosphere.subscribe(
    { url: location.origin + path, ...base(transport), ...extra },
    {
      message: (response) => state.messages.push(response.responseBody),
      open: () => state.events.push('open'),
      reopen: () => state.events.push('reopen'),
      close: () => state.events.push('close'),
      reconnect: () => state.events.push('reconnect'),
      error: (error) => state.events.push('error: ' + error.message),
    },
  );
};
window.members = {};
window.joinRoom = async (name, room, transport) => {
  const state = { joined: [], joins: [], leaves: [], messages: [] };
  window.members[name] = state;
  state.rooms = new AtmosphereRooms(new Atmosphere({ logLevel: 'silent' }), { url: location.origin + '/rooms', ...base(transport) });
  state.handle = await state.rooms.join(room, { id: name, info: { name } }, {
    joined: (_room, members) => state.joined.push(members.map((member) => member.id)),
    join: (event) => state.joins.push(event.member.id),
    leave: (event) => state.leaves.push(event.member.id),
    message: (data, member) => state.messages.push(member.id + ': ' + data),
  });
};
window.streams = {};
window.stream = async (name, transport, prompt) => {
  const state = { text: '', completed: false, errors: [] };
  window.streams[name] = state;
  state.handle = await subscribeStreaming(new Atmosphere({ logLevel: 'silent' }), { url: location.origin + '/ai', ...base(transport) }, {
    onOpen: () => { state.opened = true; },
    onStreamingText: (text) => { state.text += text; },
    onComplete: () => { state.completed = true; },
    onError: (error) => state.errors.push(error),
  });
  await new Promise((resolve) => {
    const wait = () => (state.opened ? resolve() : setTimeout(wait, 10));
    wait();
  });
  state.handle.send(prompt);
};
document.title = 'ready';
</script></body></html>`;

/** A TCP proxy in front of the server: `cut()` drops every connection through it at once. */
async function startProxy(port: () => number): Promise<{ server: Server; url: string; cut(): void }> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = createConnection({ host: '127.0.0.1', port: port() });
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
    }
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('close', () => outbound.destroy());
    outbound.on('close', () => inbound.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    server,
    url: `http://127.0.0.1:${address.port}`,
    cut: () => {
      for (const socket of sockets) socket.destroy();
    },
  };
}

let browser: Browser;
let page: Page;
let atmosphere: Atmosphere;
let proxy: Awaited<ReturnType<typeof startProxy>>;
const received = new Map<string, string[]>();

beforeAll(async () => {
  const bundle = await readFile(
    createRequire(import.meta.url)
      .resolve('atmosphere.js')
      .replace(/index\.cjs$/, 'atmosphere.global.js'),
    'utf8',
  );
  proxy = await startProxy(() => atmosphere.address()!.port);
  atmosphere = await startTestAtmosphere({
    rateLimit: false,
    // The page is served through the proxy: that is its origin and its Host.
    publicOrigins: [proxy.url],
    allowedHosts: [new URL(proxy.url).host],
    heartbeat: { intervalMs: 300, minIntervalMs: 300, clientIntervalMs: 500 },
  });
  atmosphere.handle('/compat/{file}', {
    request(_request, response, params) {
      const js = params['file'] === 'atmosphere.global.js';
      response.writeHead(200, { 'Content-Type': js ? 'text/javascript' : 'text/html; charset=utf-8' });
      response.end(js ? bundle : PAGE);
    },
  });
  atmosphere.managed(
    '/chat/{name}',
    {
      onMessage: (message, resource) => {
        const list = received.get(resource.path) ?? [];
        list.push(String(message));
        received.set(resource.path, list);
      },
      onHeartbeat: (resource) => {
        heartbeats.set(resource.id, (heartbeats.get(resource.id) ?? 0) + 1);
      },
    },
    { codec: 'text' },
  );
  createRooms(atmosphere, { path: '/rooms' });
  aiEndpoint(atmosphere, {
    path: '/ai',
    runtime: demoRuntime({ delayMs: 1, answer: ({ message }) => `echo of ${message} in five words` }),
  });
  browser = await launchChromium();
  page = await browser.newPage();
  await page.goto(`${proxy.url}/compat/page.html`);
  await page.waitForFunction(() => document.title === 'ready');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  proxy?.server.close();
  await atmosphere?.close();
});

/** The server's sessions (resources) on a path: one per client when nothing churns. */
function sessions(path: string): string {
  const list: string[] = [];
  for (const resource of atmosphere.resources())
    if (resource.path === path) list.push(`${resource.id}:${resource.state}`);
  return list.join(',');
}

/** Runs `script` in the page (a function body over `window` as `w`). */
function inPage<T>(script: string): Promise<T> {
  return page.evaluate<T>(`(async (w) => { ${script} })(window)`);
}

/** Waits (event-driven, in the page) for `condition`, a JavaScript expression over `w` (window). */
async function pageWaits(condition: string, what: string, timeoutMs = 10_000): Promise<void> {
  try {
    await page.waitForFunction(`((w) => ${condition})(window)`, undefined, { timeout: timeoutMs });
  } catch (error) {
    const state = await inPage<string>(
      'return JSON.stringify({ clients: w.clients, members: w.members, streams: w.streams }, (k, v) => (["subscription", "atmosphere", "rooms", "handle"].includes(k) ? undefined : v))',
    );
    throw new Error(`Waiting for ${what} failed; page state: ${state}`, { cause: error });
  }
}

async function broadcastRange(path: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) await atmosphere.broadcast(path, `m${i}`);
}

const range = (from: number, to: number): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => `m${from + i}`);

const heartbeats = new Map<string, number>();

describe.each(TRANSPORTS)('atmosphere.js 5 over %s', (transport) => {
  test('messages both ways; a server-side cut: back with its session, 0 lost, no churn; idle with heartbeats', async () => {
    const path = `/chat/${transport}`;
    const name = `chat-${transport}`;
    const messages = `w.clients[${JSON.stringify(name)}].messages`;
    const messagesAre = async (expected: string[]): Promise<void> => {
      await pageWaits(`${messages}.length >= ${expected.length}`, `${expected.length} messages`);
      expect(await inPage<string[]>(`return ${messages}`)).toEqual(expected);
    };
    await inPage(
      `await w.connect(${JSON.stringify(name)}, ${JSON.stringify(path)}, ${JSON.stringify(transport)})`,
    );
    await pageWaits(`w.clients[${JSON.stringify(name)}].events.includes('open')`, 'open');
    await eventually(() => sessions(path).endsWith(':connected'), 'the connection');
    const id = sessions(path).split(':')[0]!;
    await broadcastRange(path, 1, 5);
    await messagesAre(range(1, 5));
    await inPage(`w.clients[${JSON.stringify(name)}].subscription.push('hello server')`);
    await eventually(() => received.get(path)?.length === 1, 'the pushed message');
    expect(received.get(path)).toEqual(['hello server']);

    await pageWaits('w.postsInFlight === 0', 'the push to be answered');
    // The cut: the server sees its connection lost; what it broadcasts meanwhile waits for the client.
    proxy.cut();
    await eventually(() => sessions(path) === `${id}:away`, 'the server to see the cut');
    await broadcastRange(path, 6, 10);
    await messagesAre(range(1, 10));
    await eventually(() => sessions(path) === `${id}:connected`, 'the client back', 10_000);
    await broadcastRange(path, 11, 12);
    await messagesAre(range(1, 12));

    // Idle: the server's heartbeats every 300 ms, the client's every 500 ms; three of the client's = 1.5 s.
    const before = heartbeats.get(id) ?? 0;
    await eventually(() => (heartbeats.get(id) ?? 0) >= before + 3, 'three client heartbeats', 10_000);
    expect(await inPage<string[]>(`return ${messages}`)).toEqual(range(1, 12));
    expect(received.get(path)).toEqual(['hello server']);
    // One session, the same; a long-polling client is away for a moment between two polls.
    expect(sessions(path)).toMatch(
      transport === 'long-polling' ? new RegExp(`^${id}:(connected|away)$`) : new RegExp(`^${id}:connected$`),
    );
    await broadcastRange(path, 13, 13);
    await messagesAre(range(1, 13));
    const events = await inPage<string[]>(`return w.clients[${JSON.stringify(name)}].events`);
    expect(events.filter((event) => event.startsWith('error'))).toEqual([]);
  });

  test('rooms: join, presence, message, direct, leave through AtmosphereRooms', async () => {
    const room = `lobby-${transport}`;
    const member = (who: string): string => `w.members[${JSON.stringify(`${who}-${transport}`)}]`;
    const join = (who: string): Promise<unknown> =>
      inPage(
        `await w.joinRoom(${JSON.stringify(`${who}-${transport}`)}, ${JSON.stringify(room)}, ${JSON.stringify(transport)})`,
      );
    const alice = `alice-${transport}`;
    const bob = `bob-${transport}`;
    // One after the other, as two tabs would: over SSE and streaming each join is posted before its
    // handshake has been read (tracking id 0), and lands on its own stream.
    await join('alice');
    await pageWaits(`${member('alice')}.joined.length === 1`, 'alice joined');
    await join('bob');
    await pageWaits(`${member('bob')}.joined.length === 1`, 'bob joined');
    expect(await inPage(`return ${member('bob')}.joined`)).toEqual([[bob, alice]]);
    await pageWaits(`${member('alice')}.joins.length === 1`, 'alice sees bob');
    expect(await inPage(`return ${member('alice')}.joins`)).toEqual([bob]);

    await inPage(`${member('bob')}.handle.broadcast('hello room')`);
    await pageWaits(`${member('alice')}.messages.length === 1`, 'alice gets the message');
    expect(await inPage(`return ${member('alice')}.messages`)).toEqual([`${bob}: hello room`]);
    await inPage(`${member('alice')}.handle.sendTo(${JSON.stringify(bob)}, 'psst')`);
    await pageWaits(`${member('bob')}.messages.length === 1`, 'bob gets the direct message');
    expect(await inPage(`return ${member('bob')}.messages`)).toEqual([`${alice}: psst`]);
    // The sender gets no echo of its own broadcast.
    expect(await inPage(`return ${member('bob')}.messages`)).toEqual([`${alice}: psst`]);

    await inPage(`${member('bob')}.handle.leave()`);
    await pageWaits(`${member('alice')}.leaves.length === 1`, 'alice sees bob leave');
    expect(await inPage(`return ${member('alice')}.leaves`)).toEqual([bob]);
    await inPage(`await ${member('alice')}.rooms.leaveAll(); await ${member('bob')}.rooms.leaveAll()`);
  });

  test('AI streaming with subscribeStreaming', async () => {
    const name = `ai-${transport}`;
    await inPage(`await w.stream(${JSON.stringify(name)}, ${JSON.stringify(transport)}, 'hi')`);
    await pageWaits(`w.streams[${JSON.stringify(name)}].completed`, 'the answer to complete');
    const state = await inPage<{ text: string; errors: string[] }>(
      `const s = w.streams[${JSON.stringify(name)}]; await s.handle.close(); return { text: s.text, errors: s.errors }`,
    );
    expect(state).toEqual({ text: 'echo of hi in five words', errors: [] });
  });

  test('close: what the server sees when atmosphere.js closes', async () => {
    const path = `/chat/close-${transport}`;
    const name = `close-${transport}`;
    // atmosphere.js's default: no reconnect (with reconnect: true it reconnects after its own close()).
    await inPage(
      `await w.connect(${JSON.stringify(name)}, ${JSON.stringify(path)}, ${JSON.stringify(transport)}, { reconnect: false })`,
    );
    await pageWaits(`w.clients[${JSON.stringify(name)}].events.includes('open')`, 'open');
    await eventually(() => sessions(path).endsWith(':connected'), 'the connection');
    const id = sessions(path).split(':')[0]!;
    await inPage(`await w.clients[${JSON.stringify(name)}].subscription.close()`);
    if (transport === 'websocket') {
      // A close frame without a code (1005) and no reconnect: the client is gone once the short close grace ends.
      await eventually(() => sessions(path) === '', 'the client to be let go', 10_000);
    } else {
      // No close request on HTTP transports: the server cannot tell a close from a cut and keeps the client
      // for the reconnect grace period (docs/protocol.md).
      await eventually(() => sessions(path) === `${id}:away`, 'the client to be away');
    }
  });
});
