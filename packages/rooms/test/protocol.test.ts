import { eventually, type TestTransport, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type { RoomManager } from '../src/index.ts';
import { type Frame, memberIds, RoomClient, startRooms } from './helpers.ts';

const TRANSPORTS: TestTransport[] = ['websocket', 'long-polling', 'sse'];

const scope = new TestScope();
afterEach(() => scope.close());

async function setup(history = 0): Promise<{ rooms: RoomManager; connect: () => Promise<RoomClient> }> {
  const started = await startRooms({ history });
  scope.track(started.atmosphere);
  return { rooms: started.rooms, connect: (): Promise<RoomClient> => connectClient(started.url) };
}

let transport: TestTransport = 'websocket';
async function connectClient(url: string): Promise<RoomClient> {
  const client = await RoomClient.connect(url, transport);
  scope.track(client);
  return client;
}

/** Marks a point in the room's order: a server message every member receives. */
async function mark(rooms: RoomManager, room: string, label: string): Promise<void> {
  await rooms.find(room)!.broadcast(label);
}

describe.each(TRANSPORTS)('room protocol over %s', (name) => {
  test('join acks list the members; presence join and leave reach exactly the others', async () => {
    transport = name;
    const { rooms, connect } = await setup();
    const [alice, bob, carol, dave] = await Promise.all([connect(), connect(), connect(), connect()]);
    expect(memberIds(await alice.join('lobby', { memberId: 'alice', metadata: { name: 'Alice' } }))).toEqual([
      'alice',
    ]);
    const bobAck = await bob.join('lobby', { memberId: 'bob' });
    expect(bobAck).toEqual({
      type: 'join_ack',
      room: 'lobby',
      members: [
        { id: 'alice', metadata: { name: 'Alice' } },
        { id: 'bob', metadata: {} },
      ],
    });
    expect(memberIds(await carol.join('lobby', { memberId: 'carol' }))).toEqual(['alice', 'bob', 'carol']);
    expect(memberIds(await dave.join('lobby', { memberId: 'dave' }))).toEqual([
      'alice',
      'bob',
      'carol',
      'dave',
    ]);
    expect(
      rooms
        .find('lobby')!
        .members()
        .map((m) => m.id),
    ).toEqual(['alice', 'bob', 'carol', 'dave']);

    await dave.send({ type: 'leave', room: 'lobby' });
    const leave = { type: 'presence', room: 'lobby', action: 'leave', memberId: 'dave', metadata: {} };
    const joinOf = (id: string) => ({
      type: 'presence',
      room: 'lobby',
      action: 'join',
      memberId: id,
      metadata: {},
    });
    expect(await alice.take(4)).toEqual([joinOf('bob'), joinOf('carol'), joinOf('dave'), leave]);
    expect(await bob.take(3)).toEqual([joinOf('carol'), joinOf('dave'), leave]);
    expect(await carol.take(2)).toEqual([joinOf('dave'), leave]);
    expect(rooms.find('lobby')!.size).toBe(3);

    // Nothing else arrived: the next frame everyone sees is the mark, and dave (gone) does not see it.
    await mark(rooms, 'lobby', 'after-leave');
    for (const client of [alice, bob, carol])
      expect(await client.next()).toEqual({ type: 'message', room: 'lobby', data: 'after-leave' });
    expect(dave.frames().map((f) => f.type)).toEqual(['join_ack']);
  });

  test('ten clients: each sees exactly the joins after its own and the leaves before its own, in order', async () => {
    transport = name;
    const { rooms, connect } = await setup();
    const count = 10;
    const all = await Promise.all(Array.from({ length: count }, () => connect()));
    for (const [i, client] of all.entries())
      expect(memberIds(await client.join('lobby', { memberId: `m${i}` }))).toHaveLength(i + 1);
    expect(rooms.find('lobby')!.size).toBe(count);
    const last = all[count - 1]!;
    for (const [i, client] of all.entries()) {
      await client.send({ type: 'leave', room: 'lobby' });
      if (i < count - 1) await last.waitFor((f) => f['action'] === 'leave' && f['memberId'] === `m${i}`);
    }
    await eventually(() => !rooms.exists('lobby'), 'the empty room destroyed');
    for (const [i, client] of all.entries()) {
      const seen = client
        .frames()
        .filter((f) => f.type === 'presence')
        .map((f) => `${String(f['action'])} ${String(f['memberId'])}`);
      const joins = Array.from({ length: count - 1 - i }, (_, k) => `join m${i + 1 + k}`);
      const leaves = Array.from({ length: i }, (_, k) => `leave m${k}`);
      expect(seen).toEqual([...joins, ...leaves]);
    }
  });

  test('broadcasts reach the others (not the sender), direct messages one member, typing the others', async () => {
    transport = name;
    const { rooms, connect } = await setup();
    const [alice, bob, carol] = await Promise.all([connect(), connect(), connect()]);
    await alice.join('lobby', { memberId: 'alice' });
    await bob.join('lobby', { memberId: 'bob' });
    await carol.join('lobby', { memberId: 'carol' });
    await alice.waitFor((f) => f.type === 'presence' && f['memberId'] === 'carol');
    await bob.waitFor((f) => f.type === 'presence' && f['memberId'] === 'carol');

    await alice.send({ type: 'broadcast', room: 'lobby', data: { text: 'hello', n: 1 } });
    const expected = { type: 'message', room: 'lobby', from: 'alice', data: { text: 'hello', n: 1 } };
    expect(await bob.next()).toEqual(expected);
    expect(await carol.next()).toEqual(expected);

    await alice.send({ type: 'direct', room: 'lobby', targetId: 'bob', data: 'psst' });
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', from: 'alice', data: 'psst' });

    await bob.send({ type: 'typing', room: 'lobby', typing: true });
    const typing = { type: 'typing', room: 'lobby', memberId: 'bob', typing: true };
    expect(await alice.next()).toEqual(typing);
    expect(await carol.next()).toEqual(typing);

    await alice.send({ type: 'direct', room: 'lobby', targetId: 'zed', data: 'x' });
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'Member not found: zed' });

    await mark(rooms, 'lobby', 'end');
    // Exactly: alice never saw her own broadcast nor bob's typing echo; carol never saw the direct message.
    expect(await alice.next()).toEqual({ type: 'message', room: 'lobby', data: 'end' });
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', data: 'end' });
    expect(await carol.next()).toEqual({ type: 'message', room: 'lobby', data: 'end' });
  });

  test('history: ids on messages; sinceId replays exactly what came after, then live traffic, no duplicates', async () => {
    transport = name;
    const { rooms, connect } = await setup(50);
    const [alice, bob, carol] = await Promise.all([connect(), connect(), connect()]);
    await alice.join('lobby', { memberId: 'alice' });
    await bob.join('lobby', { memberId: 'bob' });
    for (let i = 1; i <= 5; i++) await alice.send({ type: 'broadcast', room: 'lobby', data: `m${i}` });
    const seen = (await bob.take(5)).map((f) => [f['id'], f['data']]);
    expect(seen).toEqual([
      [1, 'm1'],
      [2, 'm2'],
      [3, 'm3'],
      [4, 'm4'],
      [5, 'm5'],
    ]);

    const ack = await carol.join('lobby', { memberId: 'carol', sinceId: 2 });
    expect(memberIds(ack)).toEqual(['alice', 'bob', 'carol']);
    expect((await carol.take(3)).map((f) => [f['id'], f['from'], f['data']])).toEqual([
      [3, 'alice', 'm3'],
      [4, 'alice', 'm4'],
      [5, 'alice', 'm5'],
    ]);
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'm6' });
    expect(await carol.next()).toEqual({ type: 'message', room: 'lobby', id: 6, from: 'alice', data: 'm6' });

    // Bob leaves after seeing 6, misses 7 and 8, and comes back asking for what followed 6.
    await bob.waitFor((f) => f['id'] === 6);
    await bob.send({ type: 'leave', room: 'lobby' });
    await alice.waitFor((f) => f.type === 'presence' && f['action'] === 'leave');
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'm7' });
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'm8' });
    await carol.waitFor((f) => f['id'] === 8);
    await bob.join('lobby', { memberId: 'bob', sinceId: 6 });
    expect((await bob.take(2)).map((f) => f['id'])).toEqual([7, 8]);
    await mark(rooms, 'lobby', 'end');
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', id: 9, data: 'end' });
    const ids = bob
      .frames()
      .filter((f) => f.type === 'message')
      .map((f) => f['id']);
    expect(ids).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    // Carol's connection is her own: 'end' reaches her on her own schedule, not necessarily before Bob.
    await carol.waitFor((f) => f['id'] === 9);
    expect(
      carol
        .frames()
        .filter((f) => f.type === 'message')
        .map((f) => f['id']),
    ).toEqual([3, 4, 5, 6, 7, 8, 9]);
    expect(
      rooms
        .find('lobby')!
        .history(7)
        .map((m) => m.data),
    ).toEqual(['m8', 'end']);
  });

  test('one connection in several rooms; traffic stays in its room', async () => {
    transport = name;
    const { rooms, connect } = await setup();
    const [alice, bob] = await Promise.all([connect(), connect()]);
    await alice.join('lobby', { memberId: 'alice' });
    await alice.join('kitchen', { memberId: 'alice' });
    await bob.join('kitchen', { memberId: 'bob' });
    expect(rooms.count).toBe(2);
    expect(rooms.roomsOf(rooms.find('lobby')!.resources()[0]!).map((r) => r.name)).toEqual([
      'lobby',
      'kitchen',
    ]);
    await bob.send({ type: 'broadcast', room: 'kitchen', data: 'soup' });
    expect(await alice.waitFor((f) => f.type === 'message')).toEqual({
      type: 'message',
      room: 'kitchen',
      from: 'bob',
      data: 'soup',
    });
    await bob.send({ type: 'broadcast', room: 'lobby', data: 'nope' });
    expect(await bob.next()).toEqual({ type: 'error', room: 'lobby', data: 'Not a member of this room' });
    await mark(rooms, 'lobby', 'lobby-end');
    expect(await alice.next()).toEqual({ type: 'message', room: 'lobby', data: 'lobby-end' });
  });

  test('bad frames get one error frame each; nothing changes and the others carry on', async () => {
    transport = name;
    const { rooms, connect } = await setup(10);
    const [alice, mallory] = await Promise.all([connect(), connect()]);
    await alice.join('lobby', { memberId: 'alice' });
    const bad: [string | object, Frame][] = [
      ['not json', { type: 'error', data: 'Invalid JSON' }],
      ['[1,2]', { type: 'error', data: 'Expected a JSON object' }],
      [
        { type: 'dance', room: 'lobby' },
        { type: 'error', room: 'lobby', data: 'Unknown type: dance' },
      ],
      [{ type: 7 }, { type: 'error', data: 'Unknown type' }],
      [{ type: 'join' }, { type: 'error', data: 'Missing room' }],
      [
        { type: 'join', room: 'a b' },
        { type: 'error', data: 'Invalid room name: expected 1-128 characters of A-Z a-z 0-9 _ . : -' },
      ],
      [
        { type: 'join', room: 'x'.repeat(129) },
        { type: 'error', data: 'Invalid room name: expected 1-128 characters of A-Z a-z 0-9 _ . : -' },
      ],
      [
        { type: 'join', room: 'lobby', memberId: 'a/b' },
        {
          type: 'error',
          room: 'lobby',
          data: 'Invalid memberId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
        },
      ],
      [
        { type: 'join', room: 'lobby', metadata: [1] },
        {
          type: 'error',
          room: 'lobby',
          data: 'Invalid metadata: expected a JSON object of at most 4096 characters',
        },
      ],
      [
        { type: 'join', room: 'lobby', sinceId: -1 },
        { type: 'error', room: 'lobby', data: 'Invalid sinceId: expected a non-negative integer' },
      ],
      [
        { type: 'broadcast', room: 'lobby', data: 'x' },
        { type: 'error', room: 'lobby', data: 'Not a member of this room' },
      ],
      [
        { type: 'typing', room: 'lobby', typing: 'yes' },
        { type: 'error', room: 'lobby', data: 'Invalid typing: expected true or false' },
      ],
      [
        { type: 'broadcast', room: 'lobby', data: 'y'.repeat(70_000) },
        { type: 'error', data: 'Message too large: at most 65536 characters' },
      ],
    ];
    for (const [frame] of bad) expect(await mallory.send(frame)).toBe(200);
    expect(await mallory.take(bad.length)).toEqual(bad.map(([, error]) => error));
    expect(
      rooms
        .find('lobby')!
        .members()
        .map((m) => m.id),
    ).toEqual(['alice']);
    expect(rooms.find('lobby')!.history()).toEqual([]);
    expect(rooms.count).toBe(1);
    // Still a working member after all that.
    await mallory.join('lobby', { memberId: 'mallory' });
    await mallory.send({ type: 'broadcast', room: 'lobby', data: 'hi' });
    expect(await alice.waitFor((f) => f.type === 'message')).toEqual({
      type: 'message',
      room: 'lobby',
      id: 1,
      from: 'mallory',
      data: 'hi',
    });
    expect(alice.frames().map((f) => f.type)).toEqual(['join_ack', 'presence', 'message']);
  });
});

describe.each(TRANSPORTS)('the atmosphere.js 5 dialect over %s', (name) => {
  test('a connection that joins as atmosphere.js does is answered in its dialect, the others in ours', async () => {
    transport = name;
    const { rooms, connect } = await setup(10);
    const [alice, bob] = await Promise.all([connect(), connect()]);
    // alice speaks atmosphere.js: member {id, info}; her join is confirmed by a `join` with the member list.
    await alice.send({ type: 'join', room: 'lobby', member: { id: 'alice', info: { color: 'red' } } });
    expect(await alice.next()).toEqual({
      type: 'join',
      room: 'lobby',
      data: [{ id: 'alice', info: { color: 'red' } }],
    });
    expect(memberIds(await bob.join('lobby', { memberId: 'bob' }))).toEqual(['alice', 'bob']);
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      data: 'join',
      member: { id: 'bob', info: {} },
    });
    await bob.send({ type: 'broadcast', room: 'lobby', data: 'hello' });
    expect(await alice.next()).toEqual({
      type: 'broadcast',
      room: 'lobby',
      data: 'hello',
      member: { id: 'bob' },
      id: 1,
    });
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'hi all' });
    expect(await bob.next()).toEqual({
      type: 'message',
      room: 'lobby',
      id: 2,
      from: 'alice',
      data: 'hi all',
    });
    await bob.send({ type: 'direct', room: 'lobby', targetId: 'alice', data: 'psst' });
    expect(await alice.next()).toEqual({
      type: 'direct',
      room: 'lobby',
      data: 'psst',
      member: { id: 'bob' },
    });
    await alice.send({ type: 'direct', room: 'lobby', target: 'bob', data: 'yes?' });
    expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', from: 'alice', data: 'yes?' });
    await alice.send({ type: 'typing', room: 'lobby', typing: true });
    expect(await bob.next()).toEqual({ type: 'typing', room: 'lobby', memberId: 'alice', typing: true });
    await mark(rooms, 'lobby', 'from the server');
    expect(await alice.next()).toEqual({ type: 'broadcast', room: 'lobby', data: 'from the server', id: 3 });
    expect(await bob.next()).toMatchObject({ type: 'message', data: 'from the server' });
    // History replays in the dialect too (bob stays, so the room does too).
    await alice.send({ type: 'leave', room: 'lobby', member: { id: 'alice' } });
    expect(await bob.next()).toMatchObject({ type: 'presence', action: 'leave', memberId: 'alice' });
    await alice.send({ type: 'join', room: 'lobby', member: { id: 'alice' }, sinceId: 1 });
    expect(await alice.take(3)).toEqual([
      {
        type: 'join',
        room: 'lobby',
        data: [
          { id: 'bob', info: {} },
          { id: 'alice', info: {} },
        ],
      },
      { type: 'broadcast', room: 'lobby', data: 'hi all', member: { id: 'alice' }, id: 2 },
      { type: 'broadcast', room: 'lobby', data: 'from the server', id: 3 },
    ]);
    await bob.send({ type: 'leave', room: 'lobby' });
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      data: 'leave',
      member: { id: 'bob', info: {} },
    });
    // The dialect belongs to the connection: every room answers it alike.
    await alice.send({ type: 'join', room: 'other', member: { id: 'alice' } });
    expect(await alice.next()).toEqual({ type: 'join', room: 'other', data: [{ id: 'alice', info: {} }] });
  });
});
