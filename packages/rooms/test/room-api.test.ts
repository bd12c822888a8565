import type { Atmosphere, AtmosphereResource } from '@atmosphere/runtime';
import { eventually, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { createRooms, type RoomAuthorizationRequest, RoomManager, type RoomsOptions } from '../src/index.ts';
import { memberIds, RoomClient, startRooms } from './helpers.ts';

const scope = new TestScope();
let atmosphere: Atmosphere | undefined;
afterEach(() => scope.close());

async function setup(
  options: RoomsOptions = {},
): Promise<{ rooms: RoomManager; connect: (path?: string) => Promise<RoomClient> }> {
  const started = await startRooms(options);
  atmosphere = scope.track(started.atmosphere);
  return {
    rooms: started.rooms,
    connect: async (path = '/rooms') => {
      const client = await RoomClient.connect(started.atmosphere.url(path), 'websocket');
      scope.track(client);
      return client;
    },
  };
}

const resourceOf = (client: RoomClient): AtmosphereResource => atmosphere!.resource(client.trackingId)!;

describe('RoomManager', () => {
  test('room, find, exists, all, count, destroy; one manager per instance', async () => {
    const { rooms } = await setup();
    expect(RoomManager.for(atmosphere!)).toBe(rooms);
    expect(() => createRooms(atmosphere!)).toThrow(/already has a RoomManager/);
    expect(rooms.count).toBe(0);
    const lobby = rooms.room('lobby');
    expect(rooms.room('lobby')).toBe(lobby);
    rooms.room('kitchen');
    expect(rooms.exists('lobby')).toBe(true);
    expect(rooms.find('nope')).toBeUndefined();
    expect(rooms.exists('nope')).toBe(false);
    expect(rooms.all().map((r) => r.name)).toEqual(['lobby', 'kitchen']);
    expect(rooms.count).toBe(2);
    expect(lobby.broadcasterId).toBe('rooms:lobby');
    expect(atmosphere!.broadcasters.find('rooms:lobby')).toBeDefined();
    expect(rooms.destroy('lobby')).toBe(true);
    expect(rooms.destroy('lobby')).toBe(false);
    expect(lobby.destroyed).toBe(true);
    expect(rooms.count).toBe(1);
    expect(() => lobby.join(undefined as never)).toThrow(/destroyed/);
    for (const bad of ['', 'a b', 'x'.repeat(129), 'é', '../x'])
      expect(() => rooms.room(bad)).toThrow(/Invalid room name/);
    expect(() => rooms.room('a.b:c-d_E9')).not.toThrow();
    rooms.close();
    expect(rooms.count).toBe(0);
    expect(() => rooms.room('x')).toThrow(/closed/);
    expect(RoomManager.for(atmosphere!)).not.toBe(rooms);
  });

  test('bad options are refused with the option named', async () => {
    const { atmosphere: instance } = await startRooms();
    atmosphere = scope.track(instance);
    RoomManager.for(instance).close();
    expect(() => createRooms(instance, { history: -1 })).toThrow(/`history` must be an integer >= 0/);
    expect(() => createRooms(instance, { reconnectGraceMs: 0 })).toThrow(
      /`reconnectGraceMs` must be an integer >= 1/,
    );
    expect(() => createRooms(instance, { maxMessageLength: 1.5 })).toThrow(/`maxMessageLength`/);
  });

  test('a room a client created goes away with its last member; a server room stays', async () => {
    const { rooms, connect } = await setup();
    const alice = await connect();
    await alice.join('pop-up', { memberId: 'alice' });
    await alice.join('kept', { memberId: 'alice' });
    expect(rooms.find('pop-up')!.persistent).toBe(false);
    rooms.room('kept');
    expect(rooms.find('kept')!.persistent).toBe(true);
    await alice.send({ type: 'leave', room: 'pop-up' });
    await alice.send({ type: 'leave', room: 'kept' });
    await eventually(() => !rooms.exists('pop-up'), 'pop-up destroyed');
    expect(rooms.find('kept')!.size).toBe(0);
    expect(atmosphere!.broadcasters.find('rooms:pop-up')).toBeUndefined();
  });

  test('autoCreate false: clients join only rooms the server made', async () => {
    const { rooms, connect } = await setup({ autoCreate: false });
    const alice = await connect();
    await alice.send({ type: 'join', room: 'lobby', memberId: 'alice' });
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'No such room' });
    expect(rooms.count).toBe(0);
    rooms.room('lobby');
    expect(memberIds(await alice.join('lobby', { memberId: 'alice' }))).toEqual(['alice']);
  });

  test('maxRoomsPerConnection bounds the rooms of one connection', async () => {
    const { rooms, connect } = await setup({ maxRoomsPerConnection: 2 });
    const alice = await connect();
    await alice.join('a');
    await alice.join('b');
    await alice.send({ type: 'join', room: 'c' });
    expect(await alice.next()).toEqual({
      type: 'error',
      room: 'c',
      data: 'Too many rooms: at most 2 per connection',
    });
    expect(rooms.exists('c')).toBe(false);
    // Joining a room it is already in again is fine (a re-ack).
    expect(memberIds(await alice.join('b'))).toEqual([alice.trackingId]);
  });
});

describe('Room API', () => {
  test('server-side join of a connection on another path; leave by member id removes every connection and tells it', async () => {
    const { rooms, connect } = await setup();
    atmosphere!.managed('/app', {});
    const lobby = rooms.room('lobby');
    const alice = await connect('/app');
    const bob = await connect();
    const member = lobby.join(resourceOf(alice), { id: 'alice', metadata: { role: 'host' } });
    expect(member).toEqual({ id: 'alice', metadata: { role: 'host' } });
    expect(await alice.next()).toEqual({
      type: 'join_ack',
      room: 'lobby',
      members: [{ id: 'alice', metadata: { role: 'host' } }],
    });
    await bob.join('lobby', { memberId: 'bob' });
    expect(await alice.next()).toMatchObject({ type: 'presence', action: 'join', memberId: 'bob' });
    expect(lobby.connectionMember(resourceOf(bob))).toEqual({ id: 'bob', metadata: {} });
    expect(() => lobby.join(resourceOf(bob), { id: 'robert' })).toThrow(/as bob; leave first/);
    expect(() => lobby.join(resourceOf(bob), { id: 'no spaces' })).toThrow(/Invalid member id/);
    expect(() => rooms.room('other').join(resourceOf(alice), { id: 'carol', metadata: { n: 1n } })).toThrow(
      /must be a JSON object/,
    );
    expect(rooms.find('other')!.size).toBe(0);
    expect(() => lobby.joinVirtual({ id: 'bot', metadata: [] as never, onMessage: () => undefined })).toThrow(
      /must be a JSON object/,
    );
    expect(lobby.members().map((m) => m.id)).toEqual(['alice', 'bob']);

    // Broadcast on behalf of a connection: that connection does not get it back.
    const sent = await lobby.broadcast({ n: 1 }, resourceOf(alice));
    expect(sent).toEqual({ room: 'lobby', from: 'alice', data: { n: 1 } });
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', from: 'alice', data: { n: 1 } });
    await expect(lobby.broadcast(1n)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    await expect(lobby.broadcast(undefined)).rejects.toMatchObject({ code: 'BAD_REQUEST' });
    expect(await lobby.sendTo('nobody', 'x')).toBe(false);
    expect(await lobby.sendTo('bob', 'only you', 'alice')).toBe(true);
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', from: 'alice', data: 'only you' });

    expect(lobby.leave('bob')).toBe(true);
    expect(await bob.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'leave',
      memberId: 'bob',
      metadata: {},
    });
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'leave',
      memberId: 'bob',
      metadata: {},
    });
    expect(lobby.leave('bob')).toBe(false);
    expect(rooms.roomsOf(resourceOf(bob))).toEqual([]);
    expect(lobby.leave(resourceOf(alice))).toBe(true);
    expect(lobby.size).toBe(0);
  });

  test('history keeps the newest n; sinceId older than what is kept replays what is kept, after saying what is not', async () => {
    const { rooms, connect } = await setup();
    const lobby = rooms.room('lobby').enableHistory(3);
    for (let i = 1; i <= 5; i++) await lobby.broadcast(`m${i}`);
    expect(lobby.history().map((m) => m.id)).toEqual([3, 4, 5]);
    expect(lobby.lastMessageId).toBe(5);
    const alice = await connect();
    await alice.join('lobby', { sinceId: 0 });
    const [gap, ...replayed] = await alice.take(4);
    expect(gap).toEqual({
      type: 'error',
      room: 'lobby',
      data: 'History truncated: messages 1 to 2 are not replayed: the room no longer keeps them.',
      code: 'HISTORY_TRUNCATED',
      from: 1,
      resumeAt: 3,
    });
    expect(replayed.map((f) => f['id'])).toEqual([3, 4, 5]);
    lobby.enableHistory(10);
    expect(lobby.history(4).map((m) => m.data)).toEqual(['m5']);
    lobby.enableHistory(0);
    expect(lobby.history()).toEqual([]);
    expect(await lobby.broadcast('no id')).toEqual({ room: 'lobby', data: 'no id' });
    expect(() => lobby.enableHistory(-1)).toThrow(/capacity/);
  });

  test('runtime filters apply to room traffic, history replays included', async () => {
    const { rooms, connect } = await setup({ history: 10 });
    const lobby = rooms.room('lobby');
    atmosphere!.broadcasters.get(lobby.broadcasterId).addFilter({
      name: 'redact',
      filter: (payload) => (typeof payload === 'string' ? payload.replaceAll('hunter2', '*******') : payload),
    });
    const alice = await connect();
    await alice.join('lobby', { memberId: 'alice' });
    await lobby.broadcast('my password is hunter2');
    expect(await alice.next()).toEqual({
      type: 'message',
      room: 'lobby',
      id: 1,
      data: 'my password is *******',
    });
    const bob = await connect();
    await bob.join('lobby', { memberId: 'bob', sinceId: 0 });
    expect(await bob.next()).toEqual({
      type: 'message',
      room: 'lobby',
      id: 1,
      data: 'my password is *******',
    });
  });

  test('a join while asynchronous filters hold messages: ack, each message exactly once, in order, then live', async () => {
    const { rooms, connect } = await setup({ history: 100 });
    const lobby = rooms.room('lobby');
    atmosphere!.broadcasters.get(lobby.broadcasterId).addFilter({
      name: 'slow',
      filter: async (payload) => {
        await new Promise((resolve) => setImmediate(resolve));
        return payload;
      },
    });
    const alice = await connect();
    const bob = await connect();
    await alice.join('lobby', { memberId: 'alice' });
    const inFlight = [1, 2, 3, 4, 5].map((i) => lobby.broadcast(`m${i}`));
    // Bob joins while m1..m5 sit in the filter, asking for all history.
    lobby.join(resourceOf(bob), { id: 'bob' }, { sinceId: 0 });
    const afterJoin = lobby.broadcast('m6');
    await Promise.all([...inFlight, afterJoin]);
    const frames = await bob.take(7);
    expect(frames[0]).toMatchObject({ type: 'join_ack', members: [{ id: 'alice' }, { id: 'bob' }] });
    expect(frames.slice(1).map((f) => f['data'])).toEqual(['m1', 'm2', 'm3', 'm4', 'm5', 'm6']);
    await lobby.broadcast('end');
    expect(await bob.next()).toMatchObject({ data: 'end', id: 7 });
    expect((await alice.take(8)).map((f) => f['data'] ?? f['memberId'])).toEqual([
      'm1',
      'm2',
      'm3',
      'm4',
      'm5',
      'bob',
      'm6',
      'end',
    ]);
  });

  test('the authorizer sees each action with its details, sync or async, and a throw refuses', async () => {
    const seen: string[] = [];
    const authorize = (request: RoomAuthorizationRequest): boolean | Promise<boolean> => {
      const { action, room, member, resource, ...rest } = request;
      seen.push(
        `${action} ${room} ${member.id} ${JSON.stringify(rest)} ${String((resource.principal as { user?: string } | undefined)?.user)}`,
      );
      if (action === 'typing') throw new Error('typing is not for you');
      if (action === 'direct') return Promise.resolve(false);
      return action === 'leave' ? Promise.resolve(true) : true;
    };
    const started = await startRooms(
      { authorize, history: 5 },
      { auth: { verify: (token) => ({ user: token }), from: ['query'] } },
    );
    atmosphere = scope.track(started.atmosphere);
    const alice = await RoomClient.connect(started.url, 'websocket', {
      query: { 'X-Atmosphere-Auth': 'alice' },
    });
    scope.track(alice);
    await alice.join('lobby', { memberId: 'alice', metadata: { a: 1 }, sinceId: 0 });
    await alice.send({ type: 'broadcast', room: 'lobby', data: { text: 'hi' } });
    await alice.send({ type: 'direct', room: 'lobby', targetId: 'alice', data: 'me' });
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'Unauthorized' });
    await alice.send({ type: 'typing', room: 'lobby', typing: true });
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'Unauthorized' });
    await alice.send({ type: 'leave', room: 'lobby' });
    await eventually(() => started.rooms.find('lobby')?.size !== 1, 'alice out');
    expect(seen).toEqual([
      'join lobby alice {"sinceId":0} alice',
      'broadcast lobby alice {"data":{"text":"hi"}} alice',
      'direct lobby alice {"targetId":"alice","data":"me"} alice',
      'typing lobby alice {"typing":true} alice',
      'leave lobby alice {} alice',
    ]);
  });
});

test('a bad @@ sub-path prefix gets a room error frame, not a crash', async () => {
  const { connect } = await setup();
  const alice = await connect();
  await alice.send('@@/nowhere@@{"type":"join","room":"lobby"}');
  expect(await alice.next()).toEqual({ type: 'error', data: 'Unknown path' });
  expect(memberIds(await alice.join('lobby', { memberId: 'alice' }))).toEqual(['alice']);
});
