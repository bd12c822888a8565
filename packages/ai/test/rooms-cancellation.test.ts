import { Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { llmRoomMember, type RoomAnswer } from '../src/rooms/index.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Frame, framesOf, messagesOf, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const isToken = (f: Frame): boolean => f.type === 'streaming-text' && f['from'] === 'assistant';

/** A room with an assistant whose first answer stops after three tokens until the replay server is released. */
async function answering(): Promise<{
  h: RoomsHarness;
  answers: Inbox<RoomAnswer>;
  member: ReturnType<typeof llmRoomMember>;
}> {
  const harness = await roomsHarness({ steps: [sseStep('openai-text.sse', { pauseAfter: 4 })] });
  h = harness;
  const answers = new Inbox<RoomAnswer>();
  const member = llmRoomMember({
    id: 'assistant',
    runtime: harness.runtime(),
    onAnswer: (answer) => answers.push(answer),
  });
  harness.rooms.room('lobby').joinVirtual(member);
  return { h: harness, answers, member };
}

describe('an answer in progress is cancelled with its upstream request', () => {
  test('when the member is removed from the room (leaveVirtual)', async () => {
    const { h, answers, member } = await answering();
    const lobby = h.rooms.room('lobby');
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', '@assistant tell me a long story');
    await bob.waitFor(isToken);
    expect(lobby.leaveVirtual(member)).toBe(true);
    // The replay server sees its client (the model request) go away before the answer ended.
    expect(await h.replay.aborts.next()).toBe(0);
    await bob.waitFor(
      (f) => f.type === 'presence' && f['action'] === 'leave' && f['memberId'] === 'assistant',
    );
    expect(await answers.next()).toMatchObject({ status: 'cancelled', prompt: 'tell me a long story' });
    await member.idle();
    // The room goes on: no answer was said, and people still talk.
    await alice.say('lobby', 'still here?');
    await bob.waitFor((f) => f['data'] === 'still here?');
    expect(messagesOf(bob.frames(), 'assistant')).toEqual([]);
    expect(
      framesOf(bob.frames(), 'assistant').filter((f) => f.type === 'complete' || f.type === 'error'),
    ).toEqual([]);
    expect(lobby.history().map((m) => m.data)).toEqual(['@assistant tell me a long story', 'still here?']);
  });

  test('when it leaves politely (member.leave): the room gets a CANCELLED error frame and typing off first', async () => {
    const { h, answers, member } = await answering();
    const lobby = h.rooms.room('lobby');
    const alice = await h.member('alice', 'lobby');
    await alice.say('lobby', '@assistant tell me a long story');
    const bob = await h.member('bob', 'lobby');
    await alice.waitFor(isToken);
    expect(member.leave(lobby)).toBe(true);
    expect(member.leave(lobby)).toBe(false);
    expect(member.rooms).toEqual([]);
    expect(await h.replay.aborts.next()).toBe(0);
    await alice.waitFor(
      (f) => f.type === 'presence' && f['action'] === 'leave' && f['memberId'] === 'assistant',
    );
    const frames = framesOf(alice.frames(), 'assistant');
    const sessionId = frames[1]!['sessionId'];
    expect(frames.slice(-2)).toEqual([
      {
        room: 'lobby',
        from: 'assistant',
        type: 'error',
        data: 'The run was cancelled: assistant left room lobby',
        code: 'CANCELLED',
        sessionId,
        seq: frames.length - 2,
      },
      { type: 'typing', room: 'lobby', memberId: 'assistant', typing: false },
    ]);
    expect((await answers.next()).status).toBe('cancelled');
    // Bob joined mid-answer: he got the rest of the stream and its end, in the same order as alice.
    await bob.waitFor(
      (f) => f.type === 'presence' && f['action'] === 'leave' && f['memberId'] === 'assistant',
    );
    const bobs = framesOf(bob.frames(), 'assistant');
    expect(bobs.length).toBeGreaterThan(1);
    expect(bobs).toEqual(frames.slice(frames.length - bobs.length));
  });

  test('when the room is destroyed', async () => {
    const { h, answers } = await answering();
    const lobby = h.rooms.room('lobby');
    const alice = await h.member('alice', 'lobby', 'sse');
    await alice.say('lobby', '@assistant tell me a long story');
    await alice.waitFor(isToken);
    lobby.destroy();
    expect(await h.replay.aborts.next()).toBe(0);
    await alice.waitFor((f) => f.type === 'error' && f['data'] === 'Room closed');
    expect((await answers.next()).status).toBe('cancelled');
    expect(messagesOf(alice.frames(), 'assistant')).toEqual([]);
    // Another room works on the same server.
    h.rooms.room('other').joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime() }));
    h.replay.enqueue(sseStep('openai-text.sse'));
    const bob = await h.member('bob', 'other');
    await bob.say('other', '@assistant hello');
    expect(
      (
        (await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant'))['data'] as {
          text: string;
        }
      ).text,
    ).toBe(transcriptText('openai-text.sse'));
  });
});

describe('one answer at a time', () => {
  test('questions wait their turn in arrival order; beyond maxQueued they are refused with an error frame', async () => {
    h = await roomsHarness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 }), sseStep('openai-text.sse')],
    });
    const lobby = h.rooms.room('lobby');
    const answers = new Inbox<RoomAnswer>();
    const member = llmRoomMember({
      id: 'assistant',
      runtime: h.runtime(),
      maxQueued: 1,
      onAnswer: (answer) => answers.push(answer),
    });
    lobby.joinVirtual(member);
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', '@assistant first'); // 1: answered now (paused upstream)
    await bob.waitFor(isToken);
    await alice.say('lobby', '@assistant second'); // 2: waits
    await alice.say('lobby', '@assistant third'); // 3: refused
    const refused = await bob.waitFor((f) => f.type === 'error' && f['from'] === 'assistant');
    expect(refused).toMatchObject({ code: 'TOO_MANY_PROMPTS', seq: 2 });
    expect(refused['data']).toBe(
      'assistant is busy answering and 1 question(s) are waiting; ask again when it has answered.',
    );
    expect(
      framesOf(bob.frames(), 'assistant').find(
        (f) => f['sessionId'] === refused['sessionId'] && f['seq'] === 1,
      ),
    ).toMatchObject({
      key: 'room.replyTo',
      value: { from: 'alice', id: 3 },
    });
    expect(await answers.next()).toMatchObject({ status: 'refused', prompt: 'third' });
    // Only one model request so far: the second question has not started.
    expect(h.replay.requests.items).toHaveLength(1);
    h.replay.release();
    await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((await answers.take(2)).map((a) => `${a.status} ${a.prompt}`)).toEqual([
      'complete first',
      'complete second',
    ]);
    const replies = messagesOf(bob.frames(), 'assistant').map(
      (f) => (f['data'] as { replyTo: { id: number } }).replyTo.id,
    );
    expect(replies).toEqual([1, 2]);
    // The answers did not overlap: the second one's frames all come after the first one's message.
    const frames = framesOf(bob.frames(), 'assistant');
    const firstMessage = frames.findIndex((f) => f.type === 'message');
    const secondSession = (messagesOf(frames, 'assistant')[1]!['data'] as { sessionId: string }).sessionId;
    expect(frames.findIndex((f) => f['sessionId'] === secondSession)).toBeGreaterThan(firstMessage);
    expect((h.replay.requests.items[1]!.body!['messages'] as { content: string }[]).at(-1)!.content).toBe(
      'alice: second',
    );
  });
});
