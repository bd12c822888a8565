import { Inbox, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type {
  RoomAuthorizationRequest,
  RoomMessage,
  RoomTimingSource,
  VirtualRoomMember,
} from '../src/index.ts';
import { RoomClient, startRooms } from './helpers.ts';

const scope = new TestScope();
afterEach(() => scope.close());

/** An AI-like member that records the paint timing reports it is handed. */
class Timed implements VirtualRoomMember {
  readonly id = 'assistant';
  readonly reports = new Inbox<{ report: string; memberId: string; resourceId: string }>();
  onMessage(): void {}
  onTiming(report: string, connection: RoomTimingSource): void {
    expect(connection.resource?.id).toBe(connection.resourceId);
    this.reports.push({ report, memberId: connection.member.id, resourceId: connection.resourceId });
  }
}

/** A member without the hook. */
class Quiet implements VirtualRoomMember {
  readonly id = 'bot';
  readonly messages = new Inbox<RoomMessage>();
  onMessage(message: RoomMessage): void {
    this.messages.push(message);
  }
}

describe('room timing frames (paint timing of AI answers)', () => {
  test("reach the member's onTiming as sent, from joined connections only, past no authorizer, answered to no one", async () => {
    const asked: string[] = [];
    const started = await startRooms({
      authorize: (request: RoomAuthorizationRequest) => {
        asked.push(request.action);
        return request.action === 'join' || request.action === 'broadcast';
      },
    });
    scope.track(started.atmosphere);
    const lobby = started.rooms.room('lobby');
    const timed = new Timed();
    const quiet = new Quiet();
    lobby.joinVirtual(timed);
    lobby.joinVirtual(quiet);
    const ann = scope.track(await RoomClient.connect(started.url, 'websocket'));
    const bob = scope.track(await RoomClient.connect(started.url, 'websocket'));
    await ann.join('lobby', { memberId: 'ann' });
    await bob.join('lobby', { memberId: 'bob' });

    const report = '/__timing/5f0c1e2a-9d7b-4c1e-8a3f-2b6d4e8f0a11 [[2,30,14]]';
    await ann.send({ type: 'timing', room: 'lobby', memberId: 'assistant', report });
    expect(await timed.reports.next(5_000)).toEqual({
      report,
      memberId: 'ann',
      resourceId: ann.trackingId,
    });
    // Not a string: handed on as '', for the member to refuse and count.
    await ann.send({ type: 'timing', room: 'lobby', memberId: 'assistant', report: { hostile: true } });
    expect((await timed.reports.next(5_000)).report).toBe('');
    // To a member without the hook, or to no member at all: dropped.
    await ann.send({ type: 'timing', room: 'lobby', memberId: 'bot', report });
    await ann.send({ type: 'timing', room: 'lobby', memberId: 'nobody', report });
    // The room goes on, in order: a broadcast after them arrives, and nothing was answered to anyone.
    await ann.send({ type: 'broadcast', room: 'lobby', data: 'after' });
    await bob.waitFor((frame) => frame.type === 'message' && frame['data'] === 'after');
    expect((await quiet.messages.next(5_000)).data).toBe('after');
    expect(timed.reports.items.length).toBe(2);
    for (const client of [ann, bob])
      expect(client.frames().filter((frame) => frame.type === 'error')).toEqual([]);
    expect(asked.filter((action) => action !== 'join' && action !== 'broadcast')).toEqual([]);

    // A connection not in the room is told so (as for any frame about a room it is not in); the member hears nothing.
    const eve = scope.track(await RoomClient.connect(started.url, 'websocket'));
    await eve.send({ type: 'timing', room: 'lobby', memberId: 'assistant', report });
    const refused = await eve.waitFor((frame) => frame.type === 'error');
    expect(refused).toMatchObject({ room: 'lobby', data: 'Not a member of this room' });
    // A bad envelope (the member id) is refused like any other frame, to the sender alone.
    await ann.send({ type: 'timing', room: 'lobby', memberId: 'a b', report });
    await ann.waitFor(
      (frame) => frame.type === 'error' && String(frame['data']).startsWith('Invalid memberId'),
    );
    expect(bob.frames().filter((frame) => frame.type === 'error')).toEqual([]);
    expect(timed.reports.items.length).toBe(2);
  });
});
