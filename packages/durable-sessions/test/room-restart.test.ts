import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Atmosphere, type ResetEvent, type SessionEvent, type Subscription } from '@atmosphere/client';
import { connectTestClient, eventually, Inbox, type TestClient } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { ChildServer } from './child-server.ts';

/**
 * Rooms after SIGKILL and a restart on the same SQLite file (DURABILITY.md §1, §5): a member that comes back
 * with its session token is put back in its rooms by the server (it does not join again itself), presence
 * shows it, it gets exactly the room messages it missed, from its cursor, then live ones; history ids go on
 * after the last one given before the kill. A forged or foreign token restores nothing and says why; a
 * membership the authorizer no longer grants is refused with a clear error.
 */
const SERVER = fileURLToPath(new URL('./fixtures/rooms-server.ts', import.meta.url));
const TOKEN = 'X-Atmosphere-Session-Token';

let server: ChildServer | undefined;
let folder: string | undefined;
const subscriptions: Subscription[] = [];
const clients: TestClient[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  await server?.kill();
  server = undefined;
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

async function startServer(history?: number): Promise<ChildServer> {
  folder = mkdtempSync(join(tmpdir(), 'atmosphere-rooms-'));
  server = new ChildServer(
    SERVER,
    join(folder, 'atmosphere.sqlite'),
    history === undefined ? [] : [String(history)],
  );
  await server.start();
  return server;
}

interface Frame {
  readonly type: string;
  readonly room?: string;
  readonly id?: number;
  readonly data?: unknown;
  readonly members?: { id: string }[];
  readonly action?: string;
  readonly memberId?: string;
}

interface Member {
  readonly subscription: Subscription;
  readonly sessions: Inbox<SessionEvent>;
  readonly resets: ResetEvent[];
  readonly frames: Inbox<Frame>;
  /** The room messages received, as `[id, n]`. */
  readonly messages: Inbox<[number | undefined, number]>;
}

/** A plain client of the room protocol (no room library: it never sends `join` again by itself). */
function connect(url: string, transport: 'websocket' | 'sse' | 'long-polling'): Member {
  const sessions = new Inbox<SessionEvent>();
  const resets: ResetEvent[] = [];
  const frames = new Inbox<Frame>(10_000);
  const messages = new Inbox<[number | undefined, number]>(10_000);
  const subscription = new Atmosphere().subscribe(
    {
      url,
      transport,
      fallbackTransport: [],
      reconnectInterval: 400,
      maxReconnectInterval: 400,
      maxReconnectOnClose: 100,
    },
    { session: (event) => sessions.push(event), reset: (event) => resets.push(event) },
  );
  subscription.on('message', (message) => {
    const frame = JSON.parse(message.text) as Frame;
    frames.push(frame);
    if (frame.type === 'message') messages.push([frame.id, (frame.data as { n: number }).n]);
  });
  subscriptions.push(subscription);
  return { subscription, sessions, resets, frames, messages };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

async function members(server: ChildServer): Promise<string[]> {
  const printed = await server.command('M');
  const json = /MEMBERS (.*)\n/.exec(printed)![1]!;
  return (JSON.parse(json) as { id: string }[]).map((member) => member.id);
}

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('after SIGKILL and a restart: the server puts the member back in its room, presence shows it, every missed message once, history ids go on', async () => {
    const server = await startServer();
    const alice = connect(server.url('/rooms'), transport);
    await alice.sessions.waitForCount(1);
    alice.subscription.push(
      JSON.stringify({ type: 'join', room: 'lobby', memberId: 'alice', metadata: { name: 'Alice' } }),
    );
    await alice.frames.waitFor((frame) => frame.type === 'join_ack');
    await server.command('B 1 10');
    await alice.messages.waitForCount(10);
    expect(alice.messages.items).toEqual(range(1, 10).map((n) => [n, n]));

    // The network drops, 50 more are said while alice is away, and the process is killed.
    await server.command('CUT');
    await server.command('B 11 60');
    await server.kill();
    await server.start();

    // A watcher that joins the restarted server sees alice come back.
    const bob = await connectTestClient(server.url('/rooms'), 'websocket');
    clients.push(bob);
    await bob.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'bob' }));
    await bob.messages.waitFor((text) => (JSON.parse(text) as Frame).type === 'join_ack');

    await alice.sessions.waitForCount(2);
    expect(alice.sessions.items[1]).toMatchObject({
      status: 'resumed',
      token: alice.sessions.items[0]!.token,
    });
    await alice.messages.waitForCount(60, 15_000).catch((error: Error) => {
      throw new Error(
        `${error.message.slice(0, 120)}; cursors ${JSON.stringify(alice.subscription.status().cursors)}, resets ${JSON.stringify(alice.resets)}, stderr ${server.stderr}`,
      );
    });
    // The replay came through her membership: the server has her in the lobby, with bob.
    expect((await members(server)).sort()).toEqual(['alice', 'bob']);
    const seenByBob = (): boolean => {
      for (const text of bob.messages.items) {
        const frame = JSON.parse(text) as Frame;
        if (frame.type === 'join_ack' && frame.members?.some((member) => member.id === 'alice')) return true;
        if (frame.type === 'presence' && frame.action === 'join' && frame.memberId === 'alice') return true;
      }
      return false;
    };
    await eventually(seenByBob, 'bob to see alice in the lobby').catch((error: Error) => {
      throw new Error(`${error.message}: bob got ${bob.messages.items.join(' ')}`);
    });

    // Live messages reach her, numbered on after the last id given before the kill.
    await server.command('B 61 65');
    await alice.messages.waitForCount(65);
    expect(alice.messages.items).toEqual(range(1, 65).map((n) => [n, n]));
    expect(alice.resets).toEqual([]);
    expect(/HISTORY (.*)\n/.exec(await server.command('H 58'))![1]).toBe(JSON.stringify(range(59, 65)));
    // She never asked to join again: the one join_ack after the restart is the server's restore.
    expect(alice.frames.items.filter((frame) => frame.type === 'join_ack')).toHaveLength(2);
    expect(server.stderr).not.toMatch(/error:/);
  });
});

describe('tokens that restore nothing', () => {
  test('forged and foreign tokens get their refusal code and no room; a membership the authorizer refuses is named', async () => {
    const server = await startServer();
    const origin = 'http://app.example';
    const joinAs = async (memberId: string): Promise<string> => {
      const client = await connectTestClient(server.url('/rooms'), 'websocket', {
        query: { [TOKEN]: '0' },
        headers: { origin },
      });
      clients.push(client);
      const session = JSON.parse(await client.messages.next()) as SessionEvent;
      await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId }));
      expect(JSON.parse(await client.messages.next())).toMatchObject({ type: 'join_ack', room: 'lobby' });
      return session.token;
    };
    const eve = await joinAs('eve');
    const mallory = await joinAs('mallory');
    for (const client of clients.splice(0)) client.cut();
    await server.kill();
    await server.start();

    const open = async (token: string, from: string): Promise<TestClient> => {
      const client = await connectTestClient(server.url('/rooms'), 'websocket', {
        query: { [TOKEN]: token },
        headers: { origin: from },
      });
      clients.push(client);
      return client;
    };
    const forged = await open(`${eve.slice(0, -4)}AAAA`, origin);
    expect(JSON.parse(await forged.messages.next())).toMatchObject({
      type: 'atmosphere-session',
      status: 'created',
      refused: 'SESSION_INVALID',
    });
    const foreign = await open(eve, 'http://other.example');
    expect(JSON.parse(await foreign.messages.next())).toMatchObject({
      type: 'atmosphere-session',
      status: 'created',
      refused: 'SESSION_FOREIGN_ORIGIN',
    });
    const refused = await open(mallory, origin);
    expect(JSON.parse(await refused.messages.next())).toMatchObject({
      type: 'atmosphere-session',
      status: 'resumed',
      token: mallory,
    });
    expect(JSON.parse(await refused.messages.next())).toEqual({
      type: 'error',
      room: 'lobby',
      data: 'Membership not restored: Unauthorized',
    });
    // The owner of the token, from its origin, gets its membership back.
    const home = await open(eve, origin);
    expect(JSON.parse(await home.messages.next())).toMatchObject({ status: 'resumed', token: eve });
    expect(JSON.parse(await home.messages.next())).toMatchObject({ type: 'join_ack', room: 'lobby' });
    expect(await members(server)).toEqual(['eve']);
    expect(forged.messages.items.slice(1)).toEqual([]);
    expect(foreign.messages.items.slice(1)).toEqual([]);
    // The refused membership is forgotten: the next return of that session restores nothing.
    await refused.close();
    const again = await open(mallory, origin);
    expect(JSON.parse(await again.messages.next())).toMatchObject({ status: 'resumed', token: mallory });
    await server.command('B 1 1');
    expect(JSON.parse(await home.messages.next())).toMatchObject({ type: 'message', id: 1, data: { n: 1 } });
    expect(again.messages.items.slice(1)).toEqual([]);
  });
});

describe('history older than the memory window', () => {
  test('after SIGKILL and a restart, a join with a sinceId older than memory keeps gets the rest from the log, once, then live', async () => {
    // Memory keeps the newest 10 messages; the log keeps them all.
    const server = await startServer(10);
    await server.command('B 1 60');
    await server.kill();
    await server.start();
    expect(/HISTORY (.*)\n/.exec(await server.command('H 0'))![1]).toBe(JSON.stringify(range(51, 60)));

    // Room frames but presence (the later joiners' arrivals), as [type, id, n].
    const roomFrames = (client: TestClient) =>
      client.messages.items
        .map((text) => JSON.parse(text) as Frame)
        .filter((frame) => frame.type !== 'presence')
        .map((frame) => [frame.type, frame.id, (frame.data as { n: number } | undefined)?.n]);
    for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
      const client = await connectTestClient(server.url('/rooms'), transport);
      clients.push(client);
      await client.send(
        JSON.stringify({ type: 'join', room: 'lobby', memberId: `late-${transport}`, sinceId: 20 }),
      );
      await eventually(() => roomFrames(client).length >= 41, `the replay over ${transport}`, 10_000);
      expect(roomFrames(client)).toEqual([
        ['join_ack', undefined, undefined],
        ...range(21, 60).map((n) => ['message', n, n]),
      ]);
    }
    // Live messages follow the replay, numbered on after the last id given before the kill; nothing twice.
    await server.command('B 61 61');
    for (const client of clients) {
      await eventually(() => roomFrames(client).length >= 42, 'the live message', 10_000);
      expect(roomFrames(client).slice(41)).toEqual([['message', 61, 61]]);
    }
    expect(server.stderr).not.toMatch(/error:/);
  });
});
