import type { AiRole } from '@atmosphere/protocol';
import { eventually, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type {
  RoomAuthorizationRequest,
  RoomConnection,
  RoomTurn,
  RoomTurnRefusal,
  VirtualRoomMember,
} from '../src/index.ts';
import { RoomClient, startRooms } from './helpers.ts';

const scope = new TestScope();
afterEach(() => scope.close());

/** A virtual member that takes turns: records them, refuses the ones `refuse` names. */
class Turner implements VirtualRoomMember {
  readonly id = 'bot';
  readonly turns: string[] = [];
  readonly asked: string[] = [];
  readonly #roles: Record<string, AiRole>;
  constructor(roles: Record<string, AiRole>) {
    this.#roles = roles;
  }
  onMessage(): void {}
  roleOf(connection: RoomConnection): AiRole {
    this.asked.push(connection.member.id);
    const role = this.#roles[connection.member.id];
    if (role === undefined) throw new Error(`no role for ${connection.member.id}`);
    return role;
  }
  onTurn(turn: RoomTurn): RoomTurnRefusal | undefined {
    this.turns.push(
      turn.action === 'stop'
        ? `stop ${turn.member.id} ${turn.role} ${String(turn.sessionId)}`
        : turn.action === 'steer'
          ? `steer ${turn.member.id} ${turn.role} ${turn.steerId} ${turn.text}`
          : `approval ${turn.member.id} ${turn.role} ${turn.approvalId} ${turn.approved}`,
    );
    if (turn.action === 'steer' && turn.text === 'refuse me')
      return { code: 'INVALID_PROMPT', reason: 'Not that.' };
    return undefined;
  }
}

describe('turn control of virtual members (stop, steer, roles)', () => {
  test.each(['websocket', 'long-polling'] as const)(
    'over %s: roles are told after the join_ack and enforced before the member sees a turn; the authorizer sees turns',
    async (transport) => {
      const seen: string[] = [];
      const authorize = (request: RoomAuthorizationRequest): boolean => {
        const { action, member, targetId, data } = request;
        if (action === 'stop' || action === 'steer')
          seen.push(`${action} ${member.id} ${String(targetId)} ${String(data)}`);
        return !(action === 'steer' && data === 'forbidden words');
      };
      const started = await startRooms({ authorize });
      scope.track(started.atmosphere);
      const bot = new Turner({ alice: 'steerer', vic: 'viewer' });
      started.rooms.room('lobby').joinVirtual(bot);
      const connect = async (): Promise<RoomClient> =>
        scope.track(await RoomClient.connect(started.url, transport));
      const alice = await connect();
      const vic = await connect();
      const eve = await connect();
      for (const [client, id] of [
        [alice, 'alice'],
        [vic, 'vic'],
        [eve, 'eve'],
      ] as const) {
        await client.send({ type: 'join', room: 'lobby', memberId: id });
        const [ack, role] = await client.take(2);
        expect(ack?.type).toBe('join_ack');
        expect(role).toEqual({
          type: 'ai-role',
          room: 'lobby',
          memberId: 'bot',
          role: id === 'alice' ? 'steerer' : 'viewer',
        });
      }
      // eve's role hook threw: viewer.
      expect(bot.asked).toEqual(['alice', 'vic', 'eve']);

      await alice.send({ type: 'stop', room: 'lobby', memberId: 'bot', sessionId: 's-1' });
      await alice.send({ type: 'steer', room: 'lobby', memberId: 'bot', steerId: 'g1', text: 'shorter' });
      await alice.send({ type: 'steer', room: 'lobby', memberId: 'bot', steerId: 'g2', text: 'refuse me' });
      expect(await alice.waitFor((f) => f.type === 'error')).toEqual({
        type: 'error',
        room: 'lobby',
        data: 'Not that.',
        code: 'INVALID_PROMPT',
      });
      await alice.send({
        type: 'steer',
        room: 'lobby',
        memberId: 'bot',
        steerId: 'g3',
        text: 'forbidden words',
      });
      expect(await alice.waitFor((f) => f.type === 'error')).toEqual({
        type: 'error',
        room: 'lobby',
        data: 'Unauthorized',
      });
      for (const viewer of [vic, eve]) {
        await viewer.send({ type: 'stop', room: 'lobby', memberId: 'bot' });
        await viewer.send({ type: 'steer', room: 'lobby', memberId: 'bot', steerId: 'x', text: 'mine now' });
        const [stop, steer] = [
          await viewer.waitFor((f) => f.type === 'error'),
          await viewer.waitFor((f) => f.type === 'error'),
        ];
        expect(stop).toMatchObject({ code: 'FORBIDDEN', data: expect.stringContaining('may not stop') });
        expect(steer).toMatchObject({ code: 'FORBIDDEN', data: expect.stringContaining('may not steer') });
      }
      expect(bot.turns).toEqual([
        'stop alice steerer s-1',
        'steer alice steerer g1 shorter',
        'steer alice steerer g2 refuse me',
      ]);
      expect(seen).toEqual([
        'stop alice bot undefined',
        'steer alice bot shorter',
        'steer alice bot refuse me',
        'steer alice bot forbidden words',
        'stop vic bot undefined',
        'steer vic bot mine now',
        'stop eve bot undefined',
        'steer eve bot mine now',
      ]);
    },
  );

  test('a member that takes no turns, or no member at all: NOT_FOUND; without roleOf no role is sent', async () => {
    const started = await startRooms();
    scope.track(started.atmosphere);
    started.rooms.room('lobby').joinVirtual({ id: 'echo', onMessage: () => undefined });
    const alice = scope.track(await RoomClient.connect(started.url, 'websocket'));
    await alice.join('lobby', { memberId: 'alice' });
    for (const memberId of ['echo', 'nobody', 'alice']) {
      await alice.send({ type: 'stop', room: 'lobby', memberId });
      expect(await alice.next()).toEqual({
        type: 'error',
        room: 'lobby',
        code: 'NOT_FOUND',
        data: `${memberId} is not an AI member of room lobby on this server; nothing to stop.`,
      });
    }
    expect(alice.frames().filter((f) => f.type === 'ai-role')).toEqual([]);
  });

  test('a connection that left forgets its roles; one that joins again is asked again', async () => {
    const started = await startRooms();
    scope.track(started.atmosphere);
    const bot = new Turner({ alice: 'owner' });
    const lobby = started.rooms.room('lobby');
    lobby.joinVirtual(bot);
    const alice = scope.track(await RoomClient.connect(started.url, 'websocket'));
    await alice.join('lobby', { memberId: 'alice' });
    await alice.send({ type: 'leave', room: 'lobby' });
    await eventually(() => lobby.size === 1, 'alice out');
    await alice.join('lobby', { memberId: 'alice' });
    expect((await alice.next())['role']).toBe('owner');
    expect(bot.asked).toEqual(['alice', 'alice']);
  });
});
