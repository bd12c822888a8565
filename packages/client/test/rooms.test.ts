import { dropConnection, eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import {
  Atmosphere,
  AtmosphereRooms,
  type RoomHandle,
  type RoomHandlers,
  type Subscription,
} from '../src/index.ts';
import { type Fixture, startFixture } from './fixtures/fixture-server.ts';

let fixture: Fixture | undefined;
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  await fixture?.close();
  fixture = undefined;
});

interface Member {
  subscription: Subscription;
  handle: RoomHandle<{ text: string }>;
  log: Inbox<string>;
}

/** Joins `room` as `id` on its own connection; `log` records what the room reports, as short strings. */
function join(
  url: string,
  room: string,
  id: string,
  transport: 'websocket' | 'sse' | 'long-polling' = 'websocket',
  metadata?: Record<string, unknown>,
): Member {
  const subscription = new Atmosphere().subscribe({
    url,
    transport,
    fallbackTransport: [],
    reconnectInterval: 20,
  });
  subscriptions.push(subscription);
  const log = new Inbox<string>(8_000);
  const handlers: RoomHandlers<{ text: string }> = {
    joined: (members) => log.push(`joined:${members.map((m) => m.id).join(',')}`),
    presence: (event) => log.push(`${event.action}:${event.member.id}`),
    message: (message) => log.push(`message:${message.id ?? '-'}:${message.from}:${message.data.text}`),
    typing: (memberId, typing) => log.push(`typing:${memberId}:${typing}`),
    error: (error) => log.push(`error:${error.message}`),
  };
  const handle = AtmosphereRooms.for(subscription).join(room, metadata ? { id, metadata } : { id }, handlers);
  return { subscription, handle, log };
}

test('join/join_ack, presence, broadcast with ids, direct, typing, leave — the §8 dialect end to end', async () => {
  fixture = await startFixture();
  const url = fixture.url('/rooms');
  const alice = join(url, 'lobby', 'alice', 'websocket', { name: 'Alice' });
  expect(await alice.log.next()).toBe('joined:alice');
  const bob = join(url, 'lobby', 'bob', 'sse');
  expect(await bob.log.next()).toBe('joined:alice,bob');
  expect(await alice.log.next()).toBe('join:bob');
  expect(bob.handle.members.get('alice')?.metadata).toEqual({ name: 'Alice' });

  alice.handle.broadcast({ text: 'hi all' });
  expect(await alice.log.next()).toBe('message:1:alice:hi all');
  expect(await bob.log.next()).toBe('message:1:alice:hi all');
  bob.handle.sendTo('alice', { text: 'psst' });
  expect(await alice.log.next()).toBe('message:-:bob:psst');
  bob.handle.typing(true);
  expect(await alice.log.next()).toBe('typing:bob:true');
  bob.handle.sendTo('nobody', { text: '?' });
  expect(await bob.log.next()).toBe('error:Room "lobby": Member not found: nobody');

  bob.handle.leave();
  expect(await alice.log.next()).toBe('leave:bob');
  expect([...alice.handle.members.keys()]).toEqual(['alice']);
  expect(bob.handle.joined).toBe(false);
  expect(alice.handle.lastMessageId).toBe(1);
});

test('an unauthorized join gets the error event; the connection stays usable', async () => {
  fixture = await startFixture();
  const intruder = join(fixture.url('/rooms'), 'vault', 'intruder', 'long-polling');
  expect(await intruder.log.next()).toBe('error:Room "vault": Unauthorized');
  expect(intruder.handle.joined).toBe(false);
  expect(intruder.subscription.state).toBe('connected');
});

test('close() sends the close request: the others see the leave at once, not after a grace period', async () => {
  fixture = await startFixture({ reconnectGraceMs: 60_000 });
  const url = fixture.url('/rooms');
  const alice = join(url, 'lobby', 'alice');
  await alice.log.next();
  const bob = join(url, 'lobby', 'bob', 'long-polling');
  await bob.log.next();
  expect(await alice.log.next()).toBe('join:bob');
  await bob.subscription.close();
  expect(await alice.log.next()).toBe('leave:bob');
});

test('after a cut, the rejoin with sinceId and the replay overlap: each message is shown once', async () => {
  fixture = await startFixture();
  const url = fixture.url('/rooms');
  const alice = join(url, 'lobby', 'alice', 'sse');
  await alice.log.next();
  const bob = join(url, 'lobby', 'bob');
  await bob.log.next();
  await alice.log.next();
  bob.handle.broadcast({ text: 'one' });
  expect(await alice.log.next()).toBe('message:1:bob:one');
  const reopened = new Inbox<string>(8_000);
  alice.subscription.on('reopen', () => reopened.push('reopen'));
  // Cut alice only: bob's connection stays (the fixture cuts every socket, so cut bob's side first).
  expect(dropConnection(fixture.atmosphere.resource(alice.subscription.trackingId), 1011, 'cut')).toBe(true);
  bob.handle.broadcast({ text: 'two' });
  bob.handle.broadcast({ text: 'three' });
  await reopened.next();
  // The cache replays what was missed, the rejoin is acknowledged and the history after sinceId arrives.
  await alice.log.waitFor((item) => item === 'message:3:bob:three');
  await eventually(() => alice.log.items.includes('joined:alice,bob'), 'the rejoin acknowledgement');
  const messages = alice.log.items.filter((item) => item.startsWith('message:'));
  expect(messages).toEqual(['message:1:bob:one', 'message:2:bob:two', 'message:3:bob:three']);
  expect(alice.log.items).toContain('joined:alice,bob');
});

test('after a server restart, the client rejoins with sinceId and gets exactly the history it missed', async () => {
  fixture = await startFixture();
  const url = fixture.url('/rooms');
  const port = fixture.port;
  const alice = join(url, 'lobby', 'alice', 'websocket');
  await alice.log.next();
  alice.handle.broadcast({ text: 'a' });
  alice.handle.broadcast({ text: 'b' });
  await alice.log.waitFor((item) => item === 'message:2:alice:b');
  const rooms = fixture.rooms;
  await fixture.close();
  // While the server is down, the room's history moves on (written by another node, say).
  rooms
    .get('lobby')!
    .history.push(
      { id: 3, from: 'carol', data: { text: 'c' } },
      { id: 4, from: 'carol', data: { text: 'd' } },
    );
  rooms.get('lobby')!.nextId = 5;
  fixture = await startFixture({ port, rooms });
  await alice.log.waitFor((item) => item === 'message:4:carol:d');
  expect(alice.log.items.filter((item) => item.startsWith('message:'))).toEqual([
    'message:1:alice:a',
    'message:2:alice:b',
    'message:3:carol:c',
    'message:4:carol:d',
  ]);
  expect(alice.handle.lastMessageId).toBe(4);
  expect(alice.handle.joined).toBe(true);
});
