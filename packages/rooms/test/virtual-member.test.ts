import type { Atmosphere } from '@atmosphere/runtime';
import { eventually, Inbox, TestScope } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type {
  PresenceEvent,
  RoomManager,
  RoomMessage,
  VirtualMemberContext,
  VirtualRoomMember,
} from '../src/index.ts';
import { type Frame, memberIds, RoomClient, startRooms } from './helpers.ts';

const scope = new TestScope();
let atmosphere: Atmosphere | undefined;
afterEach(() => scope.close());

async function setup(history = 0): Promise<{ rooms: RoomManager; connect: () => Promise<RoomClient> }> {
  const started = await startRooms({ history });
  atmosphere = scope.track(started.atmosphere);
  return {
    rooms: started.rooms,
    connect: async () => {
      const client = await RoomClient.connect(started.url, 'websocket');
      scope.track(client);
      return client;
    },
  };
}

/** Records everything the room tells it. */
class Recorder implements VirtualRoomMember {
  readonly id: string;
  readonly metadata = { bot: true };
  readonly messages = new Inbox<RoomMessage>();
  readonly presence: PresenceEvent[] = [];
  constructor(id: string) {
    this.id = id;
  }
  onMessage(message: RoomMessage): void {
    this.messages.push(message);
  }
  onPresence(event: PresenceEvent): void {
    this.presence.push(event);
  }
}

/**
 * An AI-style member: on `{ask}` it shows typing, streams PROTOCOL.md §7 frames token by token (yielding to the
 * event loop between tokens, as a real model stream does), clears typing and says its final answer.
 */
class StreamingAssistant implements VirtualRoomMember {
  readonly id = 'assistant';
  readonly metadata = { name: 'Assistant', ai: true };
  readonly tokens: string[];
  readonly done = new Inbox<string>();
  readonly seen = new Inbox<RoomMessage>();
  onFirstToken: (() => Promise<unknown>) | undefined;
  constructor(tokens: string[]) {
    this.tokens = tokens;
  }
  onMessage(message: RoomMessage, context: VirtualMemberContext): Promise<void> | undefined {
    this.seen.push(message);
    const ask = (message.data as { ask?: string } | null)?.ask;
    return ask === undefined ? undefined : this.#answer(context);
  }
  async #answer(context: VirtualMemberContext): Promise<void> {
    const sessionId = 'session-1';
    await context.typing(true);
    let seq = 0;
    for (const token of this.tokens) {
      if (context.signal.aborted) return;
      await context.broadcastFrame(
        JSON.stringify({ type: 'streaming-text', data: token, sessionId, seq: ++seq }),
      );
      if (seq === 1) await this.onFirstToken?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    await context.broadcastFrame(JSON.stringify({ type: 'complete', sessionId, seq: seq + 1 }));
    await context.typing(false);
    await context.say({ text: this.tokens.join('') });
    this.done.push(sessionId);
  }
}

describe('virtual members', () => {
  test('a virtual member receives every room message in room order, except its own', async () => {
    const { rooms, connect } = await setup(10);
    const lobby = rooms.room('lobby');
    const recorder = new Recorder('recorder');
    const other = new Recorder('other');
    const recorderContext = lobby.joinVirtual(recorder);
    const otherContext = lobby.joinVirtual(other);
    const [alice, bob] = await Promise.all([connect(), connect()]);
    expect(memberIds(await alice.join('lobby', { memberId: 'alice' }))).toEqual([
      'recorder',
      'other',
      'alice',
    ]);
    await bob.join('lobby', { memberId: 'bob' });
    // Frames of different connections have no order between them until one is seen: wait for each.
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'a1' });
    await bob.waitFor((f) => f['data'] === 'a1');
    await bob.send({ type: 'broadcast', room: 'lobby', data: 'b1' });
    await alice.waitFor((f) => f['data'] === 'b1');
    await alice.send({ type: 'direct', room: 'lobby', targetId: 'recorder', data: 'for you' });
    await alice.send({ type: 'direct', room: 'lobby', targetId: 'bob', data: 'not for the recorder' });
    await bob.waitFor((f) => f['data'] === 'not for the recorder');
    await otherContext.say('o1');
    await lobby.broadcast('server');
    await recorderContext.say('r1');
    await lobby.broadcast('end');
    expect(await recorder.messages.take(6)).toEqual([
      { room: 'lobby', id: 1, from: 'alice', data: 'a1' },
      { room: 'lobby', id: 2, from: 'bob', data: 'b1' },
      { room: 'lobby', from: 'alice', data: 'for you', to: 'recorder' },
      { room: 'lobby', id: 3, from: 'other', data: 'o1' },
      { room: 'lobby', id: 4, data: 'server' },
      { room: 'lobby', id: 6, data: 'end' },
    ]);
    expect((await other.messages.take(5)).map((m) => m.data)).toEqual(['a1', 'b1', 'server', 'r1', 'end']);
    expect(recorder.presence.map((e) => `${e.action} ${e.member.id}`)).toEqual([
      'join other',
      'join alice',
      'join bob',
    ]);
    // Connections saw the virtual members' messages as ordinary messages.
    expect(await bob.waitFor((f) => f['from'] === 'recorder')).toEqual({
      type: 'message',
      room: 'lobby',
      id: 5,
      from: 'recorder',
      data: 'r1',
    });
    // The virtual member answers directly.
    expect(await recorderContext.sendTo('alice', 'hi alice')).toBe(true);
    expect(
      await alice.waitFor((f) => f.type === 'message' && f['from'] === 'recorder' && f['id'] === undefined),
    ).toEqual({
      type: 'message',
      room: 'lobby',
      from: 'recorder',
      data: 'hi alice',
    });
  });

  test('AI frames reach every member in the same order; the final answer is history for late joiners', async () => {
    const { rooms, connect } = await setup(20);
    const lobby = rooms.room('lobby');
    const assistant = new StreamingAssistant(['Bon', 'jour', ', ', 'Mont', 'réal', '!']);
    lobby.joinVirtual(assistant);
    const [alice, bob, carol, dave] = await Promise.all([connect(), connect(), connect(), connect()]);
    await alice.join('lobby', { memberId: 'alice' });
    await bob.join('lobby', { memberId: 'bob' });
    await carol.join('lobby', { memberId: 'carol' });
    await alice.waitFor((f) => f['memberId'] === 'carol');
    await bob.waitFor((f) => f['memberId'] === 'carol');
    const start = { alice: alice.frames().length, bob: bob.frames().length, carol: carol.frames().length };
    // Carol interjects while the assistant streams: her message must sit at the same place for everyone.
    assistant.onFirstToken = async () => {
      await carol.send({ type: 'broadcast', room: 'lobby', data: 'interjection' });
      // Stream on once the interjection is in the room (a real model keeps streaming meanwhile; this pins its place).
      await assistant.seen.waitFor((m) => m.data === 'interjection');
    };
    await alice.send({ type: 'broadcast', room: 'lobby', data: { ask: 'Say hello to Montréal' } });
    await assistant.done.next();
    const final = {
      type: 'message',
      room: 'lobby',
      id: 3,
      from: 'assistant',
      data: { text: 'Bonjour, Montréal!' },
    };
    for (const client of [alice, bob, carol])
      await client.waitFor((f) => f['from'] === 'assistant' && f.type === 'message');

    const after = (client: RoomClient, from: number): Frame[] => client.frames().slice(from);
    const aiFrames = (frames: Frame[]) => frames.filter((f) => f['from'] === 'assistant');
    const expectedAi: Frame[] = [
      { type: 'typing', room: 'lobby', memberId: 'assistant', typing: true },
      ...['Bon', 'jour', ', ', 'Mont', 'réal', '!'].map((data, i) => ({
        room: 'lobby',
        from: 'assistant',
        type: 'streaming-text',
        data,
        sessionId: 'session-1',
        seq: i + 1,
      })),
      { room: 'lobby', from: 'assistant', type: 'complete', sessionId: 'session-1', seq: 7 },
      { type: 'typing', room: 'lobby', memberId: 'assistant', typing: false },
      final,
    ].filter((f) => f['from'] === 'assistant');
    const aliceFrames = after(alice, start.alice);
    const bobFrames = after(bob, start.bob);
    const carolFrames = after(carol, start.carol);
    expect(aiFrames(aliceFrames)).toEqual(expectedAi);
    expect(aiFrames(bobFrames)).toEqual(expectedAi);
    expect(aiFrames(carolFrames)).toEqual(expectedAi);
    // Whole sequences: bob saw exactly what alice saw plus alice's question; carol the same minus her own message.
    const interjection = { type: 'message', room: 'lobby', id: 2, from: 'carol', data: 'interjection' };
    expect(bobFrames).toEqual([
      { type: 'message', room: 'lobby', id: 1, from: 'alice', data: { ask: 'Say hello to Montréal' } },
      ...aliceFrames,
    ]);
    expect(aliceFrames).toContainEqual(interjection);
    expect(carolFrames).toEqual(bobFrames.filter((f) => f['from'] !== 'carol'));
    // Typing frames carry no `from` tag; check they are in place too.
    expect(aliceFrames.filter((f) => f.type === 'typing')).toEqual([
      { type: 'typing', room: 'lobby', memberId: 'assistant', typing: true },
      { type: 'typing', room: 'lobby', memberId: 'assistant', typing: false },
    ]);

    // A late joiner gets the final answer (not the token stream) from history.
    await dave.join('lobby', { memberId: 'dave', sinceId: 2 });
    expect(await dave.next()).toEqual(final);
    expect(lobby.history().map((m) => m.from)).toEqual(['alice', 'carol', 'assistant']);
  });

  test('leaving aborts the member work, announces the leave, and later calls reject', async () => {
    const { rooms, connect } = await setup();
    const lobby = rooms.room('lobby');
    const left: string[] = [];
    const member: VirtualRoomMember = {
      id: 'ai',
      onMessage: () => undefined,
      onJoin: (c) => void c.say('hello, I am here'),
      onLeave: (_c, reason) => void left.push(reason),
    };
    const alice = await connect();
    await alice.join('lobby', { memberId: 'alice' });
    const context = lobby.joinVirtual(member);
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'join',
      memberId: 'ai',
      metadata: {},
    });
    expect(await alice.next()).toEqual({
      type: 'message',
      room: 'lobby',
      from: 'ai',
      data: 'hello, I am here',
    });
    // Its id is taken: neither a client nor another virtual member can have it.
    const impostor = await connect();
    await impostor.send({ type: 'join', room: 'lobby', memberId: 'ai' });
    expect(await impostor.next()).toEqual({
      type: 'error',
      room: 'lobby',
      data: 'Member id ai belongs to a virtual member of room lobby.',
    });
    expect(() => lobby.joinVirtual({ id: 'ai', onMessage: () => undefined })).toThrow(
      /already in room lobby/,
    );

    // Frames go tagged with room and sender, or byte for byte when asked.
    await context.broadcastFrame('{"type":"progress","data":"Thinking…","sessionId":"s","seq":1}');
    await context.broadcastFrame('{"type":"progress","data":"Still…","sessionId":"s","seq":2}', {
      tag: false,
    });
    expect(await alice.client.messages.take(2)).toEqual([
      '{"room":"lobby","from":"ai","type":"progress","data":"Thinking…","sessionId":"s","seq":1}',
      '{"type":"progress","data":"Still…","sessionId":"s","seq":2}',
    ]);

    context.leave();
    expect(context.signal.aborted).toBe(true);
    expect(context.active).toBe(false);
    expect(left).toEqual(['left']);
    expect(await alice.next()).toEqual({
      type: 'presence',
      room: 'lobby',
      action: 'leave',
      memberId: 'ai',
      metadata: {},
    });
    await expect(context.broadcastFrame('{"type":"streaming-text"}')).rejects.toMatchObject({
      code: 'CLOSED',
    });
    await expect(context.say('too late')).rejects.toMatchObject({ code: 'CLOSED' });
    expect(lobby.members().map((m) => m.id)).toEqual(['alice']);
  });

  test('destroying the room tells the virtual members and the connections', async () => {
    const { rooms, connect } = await setup();
    const lobby = rooms.room('lobby');
    const reasons: string[] = [];
    const context = lobby.joinVirtual({
      id: 'ai',
      onMessage: () => undefined,
      onLeave: (_c, reason) => void reasons.push(reason),
    });
    const alice = await connect();
    await alice.join('lobby', { memberId: 'alice' });
    const events: string[] = [];
    lobby.onPresence((e) =>
      events.push(`${e.action} ${e.member.id}${e.action === 'leave' ? ` ${e.reason}` : ''}`),
    );
    expect(rooms.destroy('lobby')).toBe(true);
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'Room closed' });
    expect(reasons).toEqual(['room-destroyed']);
    expect(context.signal.aborted).toBe(true);
    expect(events).toEqual(['leave ai room-destroyed', 'leave alice room-destroyed']);
    expect(rooms.exists('lobby')).toBe(false);
    expect(atmosphere!.broadcasters.find('rooms:lobby')).toBeUndefined();
    // The connection is out of the room but still open: it can join a new lobby.
    await alice.send({ type: 'broadcast', room: 'lobby', data: 'x' });
    expect(await alice.next()).toEqual({ type: 'error', room: 'lobby', data: 'Not a member of this room' });
    expect(memberIds(await alice.join('lobby', { memberId: 'alice' }))).toEqual(['alice']);
    await eventually(() => rooms.find('lobby')?.size === 1, 'the new lobby');
  });
});
