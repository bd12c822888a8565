import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  Atmosphere,
  AtmosphereRooms,
  type ResetEvent,
  type SessionEvent,
  type Subscription,
} from '@atmosphere/client';
import { eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { ChildServer } from './child-server.ts';

/**
 * A plain broadcaster client and a room member after SIGKILL and a restart on the same SQLite file
 * (DURABILITY.md §1, §5): they come back with their session token (`resumed`), the member's rooms are joined
 * again, and each stream resumes from the client's cursor — exactly the frames it missed (broadcast while it
 * was cut off, then the process killed), none twice, no reset — then live traffic.
 */
const SERVER = fileURLToPath(new URL('./fixtures/streams-server.ts', import.meta.url));

let server: ChildServer | undefined;
let folder: string | undefined;
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  await server?.kill();
  server = undefined;
  if (folder) rmSync(folder, { recursive: true, force: true });
  folder = undefined;
});

interface Watched {
  readonly subscription: Subscription;
  readonly sessions: Inbox<SessionEvent>;
  readonly resets: ResetEvent[];
}

function open(url: string, transport: 'websocket' | 'sse' | 'long-polling'): Watched {
  const sessions = new Inbox<SessionEvent>();
  const resets: ResetEvent[] = [];
  const subscription = new Atmosphere().subscribe(
    {
      url,
      transport,
      fallbackTransport: [],
      // Away long enough for the broadcasts of a cut to be missed, back soon after the restart.
      reconnectInterval: 400,
      maxReconnectInterval: 400,
      maxReconnectOnClose: 100,
    },
    { session: (event) => sessions.push(event), reset: (event) => resets.push(event) },
  );
  subscriptions.push(subscription);
  return { subscription, sessions, resets };
}

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('after SIGKILL and a restart on the SQLite file: session resumed, the room joined again, every missed frame once, no reset', async () => {
    folder = mkdtempSync(join(tmpdir(), 'atmosphere-streams-'));
    server = new ChildServer(SERVER, join(folder, 'atmosphere.sqlite'));
    await server.start();

    const feed = open(server.url('/feed'), transport);
    const feedTexts = new Inbox<string>(10_000);
    feed.subscription.on('message', (message) => feedTexts.push(message.text));
    const member = open(server.url('/rooms'), transport);
    const roomNumbers = new Inbox<number>(10_000);
    const lobby = AtmosphereRooms.for(member.subscription).join<{ n: number }>(
      'lobby',
      { id: 'alice' },
      { message: (message) => roomNumbers.push(message.data.n) },
    );
    await feed.sessions.waitForCount(1);
    await member.sessions.waitForCount(1);
    await eventually(() => lobby.joined, 'alice to be in the lobby');

    await server.command('B 1 10');
    await feedTexts.waitForCount(10);
    await roomNumbers.waitForCount(10);
    // The network drops, 200 more are broadcast while the clients are away, and the process is killed.
    await server.command('CUT');
    await server.command('B 11 210');
    await server.kill();
    await server.start();

    await feed.sessions.waitForCount(2);
    await member.sessions.waitForCount(2);
    expect(feed.sessions.items[1]).toMatchObject({
      status: 'resumed',
      token: feed.sessions.items[0]!.token,
    });
    expect(member.sessions.items[1]).toMatchObject({
      status: 'resumed',
      token: member.sessions.items[0]!.token,
    });
    await feedTexts.waitForCount(210, 15_000);
    await roomNumbers.waitForCount(210, 15_000).catch((error: Error) => {
      throw new Error(
        `${error.message.slice(0, 120)}; cursors ${JSON.stringify(member.subscription.status().cursors)}, resets ${JSON.stringify(member.resets)}, stderr ${server?.stderr}`,
      );
    });
    await server.command('B 211 215');
    await feedTexts.waitForCount(215);
    await roomNumbers.waitForCount(215);
    expect(feedTexts.items).toEqual(range(1, 215).map((n) => `f${n}`));
    expect(roomNumbers.items).toEqual(range(1, 215));
    expect(feed.resets).toEqual([]);
    expect(member.resets).toEqual([]);
    expect(server.stderr).not.toMatch(/error:/);
  });
});
