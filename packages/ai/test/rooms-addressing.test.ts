import type { RoomMessage } from '@atmosphere/rooms';
import { afterEach, describe, expect, test } from 'vitest';
import { type LlmRoomMember, llmRoomMember, type LlmRoomMemberOptions } from '../src/rooms/index.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { type Frame, messagesOf, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** An AI member on the demo model, answering "<id> heard: <what the model was asked>". */
function member(id: string, options: Partial<LlmRoomMemberOptions> = {}): LlmRoomMember {
  return llmRoomMember({
    id,
    runtime: demoRuntime({ delayMs: 0, answer: (context) => `${id} heard: ${context.message}` }),
    ...options,
  });
}

/** The ids of the questions a member answered, from its `room.replyTo` frames, in order. */
function repliedTo(frames: readonly Frame[], memberId: string): unknown[] {
  return frames
    .filter((f) => f['from'] === memberId && f['key'] === 'room.replyTo')
    .map((f) => (f['value'] as { id: number }).id);
}

function typingOf(frames: readonly Frame[], memberId: string): unknown[] {
  return frames.filter((f) => f.type === 'typing' && f['memberId'] === memberId).map((f) => f['typing']);
}

const said = (message: RoomMessage): string =>
  `${message.id} ${message.from}: ${(message.data as { text?: string }).text ?? String(message.data)}`;

describe('several AI members in one room', () => {
  test('@name addresses one of them, an unaddressed message goes to the default one, nobody answers twice', async () => {
    h = await roomsHarness();
    const lobby = h.rooms.room('lobby');
    const ada = member('ada', { answers: 'default' });
    const grace = member('grace', { aliases: ['Hopper'] });
    lobby.joinVirtual(ada);
    lobby.joinVirtual(grace);
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    const answered = (id: number) => (f: Frame) =>
      f.type === 'message' && (f['data'] as { replyTo?: { id: number } }).replyTo?.id === id;

    await alice.say('lobby', '@grace what is a queue?'); // 1 → grace (2)
    await bob.waitFor(answered(1));
    await alice.say('lobby', 'what is a stack?'); // 3 → ada, the default (4)
    await bob.waitFor(answered(3));
    await alice.say('lobby', '@bob can you check?'); // 5 → addressed to a person: nobody
    await bob.say('lobby', { text: '@hopper and @ADA, compare them' }); // 6 → both are addressed (7, 8)
    await alice.waitFor(answered(6));
    await alice.waitFor(answered(6));
    await alice.say('lobby', 'Hopper, one more thing?'); // 9 → no @: the default answers (10)
    // Each connection gets the room's frames in room order: once the last answer is there, everything is.
    await Promise.all([alice.waitFor(answered(9)), bob.waitFor(answered(9)), ada.idle(), grace.idle()]);

    const history = lobby.history().map(said);
    expect(history.slice(0, 6)).toEqual([
      '1 alice: @grace what is a queue?',
      '2 grace: grace heard: alice: what is a queue?',
      '3 alice: what is a stack?',
      '4 ada: ada heard: alice: what is a stack?',
      '5 alice: @bob can you check?',
      '6 bob: @hopper and @ADA, compare them',
    ]);
    expect(
      history
        .slice(6, 8)
        .map((line) => line.slice(2))
        .sort(),
    ).toEqual([
      'ada: ada heard: bob: @hopper and compare them',
      'grace: grace heard: bob: and @ADA, compare them',
    ]);
    expect(history.slice(8)).toEqual([
      '9 alice: Hopper, one more thing?',
      '10 ada: ada heard: alice: Hopper, one more thing?',
    ]);
    for (const client of [alice, bob]) {
      const frames = client.frames();
      expect(repliedTo(frames, 'ada')).toEqual([3, 6, 9]);
      expect(repliedTo(frames, 'grace')).toEqual([1, 6]);
      expect(typingOf(frames, 'ada')).toEqual([true, false, true, false, true, false]);
      expect(typingOf(frames, 'grace')).toEqual([true, false, true, false]);
      expect(messagesOf(frames, 'ada')).toHaveLength(3);
      expect(messagesOf(frames, 'grace')).toHaveLength(2);
    }
  });

  test('of two default members the first seated answers; the other takes over when it leaves; bots and the server are not answered', async () => {
    h = await roomsHarness();
    const lobby = h.rooms.room('lobby');
    const first = member('first', { answers: 'default' });
    const second = member('second', { answers: 'default' });
    const echo = member('echo', { answers: 'all' });
    lobby.joinVirtual(first);
    lobby.joinVirtual(second);
    const bot = lobby.joinVirtual({ id: 'bot', onMessage: () => undefined });
    const alice = await h.member('alice', 'lobby');
    const isAnswer = (f: Frame) =>
      f.type === 'message' && typeof (f['data'] as { sessionId?: unknown }).sessionId === 'string';

    await alice.say('lobby', 'who answers?'); // 1 → first (2)
    await alice.waitFor(isAnswer);
    await bot.say('a bot says hello'); // 3 → not answered (a virtual member)
    await lobby.broadcast('the server says hello'); // 4 → not answered (no author)
    lobby.leaveVirtual(first);
    lobby.joinVirtual(echo);
    await alice.waitFor((f) => f.type === 'presence' && f['memberId'] === 'echo');
    await alice.say('lobby', 'and now?'); // 5 → second (the default now) and echo (answers all)
    await alice.waitFor(isAnswer);
    await alice.waitFor(isAnswer);
    await alice.say('lobby', '@second only you'); // 8 → second, and echo (answers all)
    await alice.waitFor(isAnswer);
    await alice.waitFor(isAnswer);
    await Promise.all([first.idle(), second.idle(), echo.idle()]);

    const frames = alice.frames();
    expect(repliedTo(frames, 'first')).toEqual([1]);
    expect(repliedTo(frames, 'second')).toEqual([5, 8]);
    expect(repliedTo(frames, 'echo')).toEqual([5, 8]);
    expect(
      lobby
        .history()
        .filter((m) => m.from === 'second' || m.from === 'echo')
        .map((m) => (m.data as { text: string }).text)
        .sort(),
    ).toEqual([
      'echo heard: alice: @second only you',
      'echo heard: alice: and now?',
      'second heard: alice: and now?',
      'second heard: alice: only you',
    ]);
  });

  test('answerWhen narrows what a member answers unmentioned, per room; mentions are always answered; what it passes is remembered', async () => {
    h = await roomsHarness();
    const lobby = h.rooms.room('lobby');
    const random = h.rooms.room('random');
    const seen: string[] = [];
    const ada = llmRoomMember({
      id: 'ada',
      answers: 'default',
      // #lobby: questions to the room; #random: mentions only.
      answerWhen: ({ room, memberId, from, text }) => {
        seen.push(`${room} ${memberId} ${from}: ${text}`);
        return room === 'lobby' && text.trim().endsWith('?');
      },
      runtime: demoRuntime({
        delayMs: 0,
        answer: (context) => `ada heard: ${context.message} (after ${context.history.length})`,
      }),
    });
    lobby.joinVirtual(ada);
    random.joinVirtual(ada);
    const alice = await h.member('alice', 'lobby');
    await h.member('carol', 'lobby');
    const bob = await h.member('bob', 'random');
    const isAnswer = (f: Frame) =>
      f.type === 'message' && typeof (f['data'] as { sessionId?: unknown }).sessionId === 'string';

    await alice.say('lobby', 'hello bob, how was the weekend'); // 1 → not a question: nobody
    await alice.say('lobby', '@carol are you there?'); // 2 → addressed to a person: nobody, not asked
    await alice.say('lobby', 'what time is it in Tokyo?'); // 3 → a question to the room: ada (4)
    await alice.waitFor(isAnswer);
    await bob.say('random', 'is anyone here?'); // 1 → mentions only in #random: nobody
    await bob.say('random', '@ada are you?'); // 2 → a mention: ada (3)
    await bob.waitFor(isAnswer);
    await ada.idle();

    expect(lobby.history().map(said)).toEqual([
      '1 alice: hello bob, how was the weekend',
      '2 alice: @carol are you there?',
      '3 alice: what time is it in Tokyo?',
      '4 ada: ada heard: alice: what time is it in Tokyo? (after 2)',
    ]);
    expect(random.history().map(said)).toEqual([
      '1 bob: is anyone here?',
      '2 bob: @ada are you?',
      '3 ada: ada heard: bob: are you? (after 1)',
    ]);
    expect(seen).toEqual([
      'lobby ada alice: hello bob, how was the weekend',
      'lobby ada alice: what time is it in Tokyo?',
      'random ada bob: is anyone here?',
    ]);
    expect(() => llmRoomMember({ id: 'x', answerWhen: 'questions' as never })).toThrow(/answerWhen/);
  });
});
