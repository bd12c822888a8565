import type { Atmosphere } from '@atmosphere/runtime';
import { eventually, type TestTransport, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type { PresenceEvent, RoomManager, RoomsOptions } from '../src/index.ts';
import { type Frame, memberIds, RoomClient, startRooms } from './helpers.ts';

const scope = new TestScope();
let atmosphere: Atmosphere | undefined;
afterEach(() => scope.close());

async function setup(
  graceMs: number,
  roomsOptions: RoomsOptions = {},
): Promise<{ rooms: RoomManager; url: string; events: PresenceEvent[] }> {
  const started = await startRooms(roomsOptions, { reconnectGraceMs: graceMs });
  atmosphere = scope.track(started.atmosphere);
  const events: PresenceEvent[] = [];
  started.rooms.room('lobby').onPresence((event) => events.push(event));
  return { rooms: started.rooms, url: started.url, events };
}

async function connect(
  url: string,
  transport: TestTransport,
  trackingId?: string,
  received?: number,
): Promise<RoomClient> {
  const client = await RoomClient.connect(
    url,
    transport,
    trackingId === undefined ? {} : { trackingId, received },
  );
  scope.track(client);
  return client;
}

const presence = (frames: Frame[]): string[] =>
  frames.filter((f) => f.type === 'presence').map((f) => `${String(f['action'])} ${String(f['memberId'])}`);
const summary = (events: PresenceEvent[]): string[] =>
  events.map((e) => `${e.action} ${e.member.id}${e.action === 'leave' ? ` ${e.reason}` : ''}`);

describe.each<TestTransport>(['websocket', 'long-polling', 'sse'])('presence over %s', (transport) => {
  test('an abrupt disconnect becomes a presence leave once the grace period ends', async () => {
    const { rooms, url, events } = await setup(300);
    const alice = await connect(url, transport);
    const bob = await connect(url, transport);
    await alice.join('lobby', { memberId: 'alice' });
    await bob.join('lobby', { memberId: 'bob' });
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'join',
      memberId: 'bob',
      metadata: {},
    });
    bob.cut();
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'leave',
      memberId: 'bob',
      metadata: {},
    });
    expect(
      rooms
        .find('lobby')!
        .members()
        .map((m) => m.id),
    ).toEqual(['alice']);
    expect(summary(events)).toEqual(['join alice', 'join bob', 'leave bob timeout']);
  });

  test('reconnecting within the grace period is neither a leave nor a second join; missed messages arrive once', async () => {
    const { rooms, url, events } = await setup(1500);
    const alice = await connect(url, transport);
    const bob = await connect(url, transport);
    const carol = await connect(url, transport);
    await alice.join('lobby', { memberId: 'alice' });
    await bob.join('lobby', { memberId: 'bob' });
    await carol.join('lobby', { memberId: 'carol' });
    await bob.waitFor((f) => f.type === 'presence' && f['memberId'] === 'carol');

    bob.cut();
    await eventually(() => atmosphere!.resource(bob.trackingId)?.state === 'away', 'bob away');
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'while bob was away' });
    await carol.waitFor((f) => f.type === 'message');
    const bobAgain = await connect(url, transport, bob.trackingId, bob.client.received);
    expect(await bobAgain.next()).toEqual({
      type: 'message',
      room: 'lobby',
      from: 'alice',
      data: 'while bob was away',
    });

    // Carol vanishes for good. Her leave comes a grace period after her cut, which is after bob's cut: had bob
    // been going to leave, alice would have seen it by then.
    carol.cut();
    await alice.waitFor((f) => f.type === 'presence' && f['action'] === 'leave');
    expect(presence(alice.frames())).toEqual(['join bob', 'join carol', 'leave carol']);
    expect(await bobAgain.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'leave',
      memberId: 'carol',
      metadata: {},
    });
    expect(summary(events)).toEqual(['join alice', 'join bob', 'join carol', 'leave carol timeout']);
    expect(
      rooms
        .find('lobby')!
        .members()
        .map((m) => m.id),
    ).toEqual(['alice', 'bob']);
    // Bob's connection is still a member: he can talk.
    await bobAgain.send({ type: 'broadcast', room: 'lobby', data: 'back' });
    expect(await alice.waitFor((f) => f.type === 'message' && f['from'] === 'bob')).toMatchObject({
      data: 'back',
    });
  });
});

describe.each<TestTransport>(['websocket', 'streaming'])(
  'one member, several connections, over %s',
  (transport) => {
    test('a second tab is no second join; only the last connection leaving is a leave', async () => {
      const { rooms, url, events } = await setup(300);
      const bob = await connect(url, transport);
      const tab1 = await connect(url, transport);
      const tab2 = await connect(url, transport);
      await bob.join('lobby', { memberId: 'bob' });
      await tab1.join('lobby', { memberId: 'alice', metadata: { name: 'Alice' } });
      // The second tab's metadata does not replace the first's.
      const ack = await tab2.join('lobby', { memberId: 'alice', metadata: { name: 'Impostor' } });
      expect(ack['members']).toEqual([
        { id: 'bob', metadata: {} },
        { id: 'alice', metadata: { name: 'Alice' } },
      ]);
      expect(rooms.find('lobby')!.memberInfo().get('alice')).toMatchObject({
        connections: 2,
        virtual: false,
      });

      // A message from one tab reaches the other tab (and bob), not the tab it came from.
      await tab1.send({ type: 'broadcast', room: 'lobby', data: 'from tab 1' });
      const fromTab1 = { type: 'message', room: 'lobby', from: 'alice', data: 'from tab 1' };
      expect(await tab2.next()).toEqual(fromTab1);
      expect(await bob.waitFor((f) => f.type === 'message')).toEqual(fromTab1);

      await tab1.send({ type: 'leave', room: 'lobby' });
      await eventually(() => rooms.find('lobby')!.memberInfo().get('alice')?.connections === 1, 'tab 1 out');
      await rooms.find('lobby')!.broadcast('mark');
      expect(await bob.next()).toEqual({ type: 'message', room: 'lobby', data: 'mark' });

      tab2.cut();
      expect(await bob.next()).toEqual({
        type: 'presence',
        room: 'lobby',
        action: 'leave',
        memberId: 'alice',
        metadata: { name: 'Alice' },
      });
      expect(presence(bob.frames())).toEqual(['join alice', 'leave alice']);
      expect(summary(events)).toEqual(['join bob', 'join alice', 'leave alice timeout']);
    });

    test('a deliberate close is a leave at once, reason disconnected', async () => {
      const { url, events } = await setup(60_000);
      const alice = await connect(url, transport);
      const bob = await connect(url, transport);
      await alice.join('lobby', { memberId: 'alice' });
      await bob.join('lobby', { memberId: 'bob' });
      await bob.close();
      expect(await alice.waitFor((f) => f['action'] === 'leave')).toEqual({
        type: 'presence',
        room: 'lobby',
        action: 'leave',
        memberId: 'bob',
        metadata: {},
      });
      expect(summary(events)).toEqual(['join alice', 'join bob', 'leave bob disconnected']);
    });
  },
);

test('a rooms grace shorter than the runtime grace: the leave comes sooner, and the returning connection is told', async () => {
  const { rooms, url, events } = await setup(10_000, { reconnectGraceMs: 200, history: 10 });
  const alice = await connect(url, 'websocket');
  const bob = await connect(url, 'websocket');
  await alice.join('lobby', { memberId: 'alice' });
  await bob.join('lobby', { memberId: 'bob' });
  await alice.send({ type: 'broadcast', room: 'lobby', data: 'one' });
  expect(await bob.next()).toMatchObject({ id: 1, data: 'one' });
  bob.cut();
  expect(await alice.waitFor((f) => f.type === 'presence' && f['action'] === 'leave')).toMatchObject({
    memberId: 'bob',
  });
  expect(summary(events)).toEqual(['join alice', 'join bob', 'leave bob timeout']);
  // The runtime still holds bob's resource: he comes back, learns he is out, and joins again from where he was.
  expect(atmosphere!.resource(bob.trackingId)?.state).toBe('away');
  await alice.send({ type: 'broadcast', room: 'lobby', data: 'two' });
  const bobAgain = await connect(url, 'websocket', bob.trackingId, bob.client.received);
  expect(await bobAgain.next()).toEqual({
    type: 'presence',
    room: 'lobby',
    action: 'leave',
    memberId: 'bob',
    metadata: {},
  });
  expect(memberIds(await bobAgain.join('lobby', { memberId: 'bob', sinceId: 1 }))).toEqual(['alice', 'bob']);
  expect(await bobAgain.next()).toEqual({
    type: 'message',
    room: 'lobby',
    id: 2,
    from: 'alice',
    data: 'two',
  });
  expect(await alice.waitFor((f) => f.type === 'presence')).toMatchObject({
    action: 'join',
    memberId: 'bob',
  });
  expect(rooms.find('lobby')!.size).toBe(2);
});
