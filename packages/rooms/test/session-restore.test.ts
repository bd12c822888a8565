import type { Atmosphere } from '@atmosphere/runtime';
import { Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type { PresenceEvent, RoomAuthorizationRequest } from '../src/index.ts';
import { RoomClient, startRooms } from './helpers.ts';

/**
 * Memberships kept in the session (the runtime's memory session store here): a client that comes back with its
 * token as a new connection — after the reconnect grace — is put back in its rooms by the server, asked of the
 * authorizer again with `restored: true`; one it left is not given back.
 */
const TOKEN = 'X-Atmosphere-Session-Token';
let atmosphere: Atmosphere | undefined;
const clients: RoomClient[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) await client.close().catch(() => undefined);
  await atmosphere?.close();
  atmosphere = undefined;
});

describe.each(['websocket', 'sse', 'long-polling'] as const)('%s', (transport) => {
  test('after the grace, a new connection with the session token is back in the rooms it had not left', async () => {
    const requests: RoomAuthorizationRequest[] = [];
    const started = await startRooms(
      { authorize: (request) => (requests.push(request), true) },
      // Long enough for a long-polling client between two polls not to count as gone while it joins (on a
      // loaded machine a poll gap can take a few hundred ms); the test waits for it once, after the cut.
      { reconnectGraceMs: 1000 },
    );
    atmosphere = started.atmosphere;
    const leaves = new Inbox<PresenceEvent>();
    started.rooms.room('lobby').onPresence((event) => event.action === 'leave' && leaves.push(event));
    const first = await RoomClient.connect(started.url, transport, { query: { [TOKEN]: '0' } });
    clients.push(first);
    const session = await first.next();
    expect(session).toMatchObject({ type: 'atmosphere-session', status: 'created' });
    await first.join('lobby', { memberId: 'alice', metadata: { name: 'Alice' } });
    await first.join('kitchen', { memberId: 'alice' });
    await first.send({ type: 'leave', room: 'kitchen' });
    await first.join('garden', { memberId: 'al' });
    first.cut();
    // Gone for good: the grace ran out, alice left the lobby.
    expect(await leaves.next(5_000)).toMatchObject({
      room: 'lobby',
      member: { id: 'alice' },
      reason: 'timeout',
    });

    const back = await RoomClient.connect(started.url, transport, {
      query: { [TOKEN]: session['token'] as string },
    });
    clients.push(back);
    expect(back.trackingId).not.toBe(first.trackingId);
    expect(await back.next()).toMatchObject({ status: 'resumed', token: session['token'] });
    const acks = await back.take(2);
    expect(acks.map((ack) => [ack.type, ack['room']]).sort()).toEqual([
      ['join_ack', 'garden'],
      ['join_ack', 'lobby'],
    ]);
    expect(started.rooms.find('lobby')?.member('alice')).toEqual({
      id: 'alice',
      metadata: { name: 'Alice' },
    });
    expect(started.rooms.find('garden')?.member('al')).toEqual({ id: 'al', metadata: {} });
    expect(started.rooms.find('kitchen')?.has('alice') ?? false).toBe(false);
    const restored = requests.filter((request) => request.restored === true);
    expect(restored.map((request) => [request.room, request.member.id]).sort()).toEqual([
      ['garden', 'al'],
      ['lobby', 'alice'],
    ]);
    expect(restored.every((request) => request.resource.id === back.trackingId)).toBe(true);
  });
});
