import { Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { llmRoomMember, type RoomAnswer } from '../src/rooms/index.ts';
import { httpStep, sseStep, transcriptText } from './fixtures.ts';
import {
  type Frame,
  framesOf,
  isAnswerEnd,
  messagesOf,
  type RoomsHarness,
  roomsHarness,
  streamedText,
} from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('errors reach the room as error frames; the room keeps working', () => {
  test('a provider stream cut mid-answer: everyone gets the partial text and an error frame, no message; the next question is answered', async () => {
    h = await roomsHarness({
      steps: [sseStep('openai-cut-midway.sse', { end: 'destroy' }), sseStep('openai-text.sse')],
    });
    const lobby = h.rooms.room('lobby');
    const answers = new Inbox<RoomAnswer>();
    const member = llmRoomMember({
      id: 'assistant',
      runtime: h.runtime(),
      onAnswer: (answer) => answers.push(answer),
    });
    lobby.joinVirtual(member);
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby', 'sse');
    await alice.say('lobby', '@assistant tell me about Atmosphere');
    const [end] = await Promise.all([alice.waitFor(isAnswerEnd), bob.waitFor(isAnswerEnd)]);
    await Promise.all(
      [alice, bob].map((c) =>
        c.waitFor((f) => f.type === 'typing' && f['memberId'] === 'assistant' && f['typing'] === false),
      ),
    );
    const sessionId = end['sessionId'] as string;
    expect(end).toMatchObject({ type: 'error', code: 'LLM_SERVER_ERROR', room: 'lobby', from: 'assistant' });
    expect(framesOf(bob.frames(), 'assistant')).toEqual(framesOf(alice.frames(), 'assistant'));
    expect(streamedText(alice.frames(), sessionId)).toBe('Hello! Atmosphere streams each token');
    const failed = await answers.next();
    expect(failed).toMatchObject({
      status: 'error',
      text: 'Hello! Atmosphere streams each token',
      sessionId,
    });
    expect(failed.reply).toBeUndefined();
    expect(lobby.history().map((m) => m.from)).toEqual(['alice']);
    expect(h.replay.requests.items).toHaveLength(1); // not retried after the first chunk

    // People keep talking, and the member answers the next question.
    await bob.say('lobby', 'that broke');
    await alice.waitFor((f) => f['data'] === 'that broke');
    await bob.say('lobby', '@assistant try again');
    const reply = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((reply['data'] as { text: string; replyTo: unknown }).text).toBe(
      transcriptText('openai-text.sse'),
    );
    expect((reply['data'] as { replyTo: unknown }).replyTo).toEqual({ from: 'bob', id: 3 });
    expect((await answers.next()).status).toBe('complete');
    // The failed answer is not in the model's memory; the question is.
    const messages = h.replay.requests.items[1]!.body!['messages'] as { role: string; content: string }[];
    expect(messages.slice(1).map((m) => `${m.role}|${m.content}`)).toEqual([
      'user|alice: @assistant tell me about Atmosphere',
      'user|bob: that broke',
      'user|bob: try again',
    ]);
  });

  test('a provider that refuses (500, 401): an error frame with the reason, keys redacted; then it answers again', async () => {
    h = await roomsHarness({
      steps: [
        httpStep('openai-500-server-error.json'),
        httpStep('openai-401-invalid-key.json'),
        sseStep('openai-text.sse'),
      ],
    });
    const lobby = h.rooms.room('lobby');
    const member = llmRoomMember({ id: 'assistant', runtime: h.runtime(), answers: 'default' });
    lobby.joinVirtual(member);
    const alice = await h.member('alice', 'lobby', 'long-polling');
    const errors: Frame[] = [];
    for (const question of ['first', 'second']) {
      await alice.say('lobby', question);
      errors.push(await alice.waitFor(isAnswerEnd));
    }
    expect(errors.map((f) => [f.type, f['code']])).toEqual([
      ['error', 'LLM_SERVER_ERROR'],
      ['error', 'LLM_FAILED'],
    ]);
    expect(errors[0]!['data']).toContain('The server had an error while processing your request');
    expect(errors[1]!['data']).toContain('Incorrect API key provided');
    expect(errors[1]!['data']).not.toMatch(/sk-proj/);
    await alice.say('lobby', 'third');
    expect(await alice.waitFor(isAnswerEnd)).toMatchObject({ type: 'complete' });
    await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect(messagesOf(alice.frames(), 'assistant')).toHaveLength(1);
  });

  test('a failing interceptor or onAnswer listener ends that answer with an error frame and breaks nothing else', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    let refuse = true;
    const member = llmRoomMember({
      id: 'assistant',
      runtime: h.runtime(),
      interceptors: [
        {
          preProcess: () => {
            if (refuse) throw new Error('Blocked by the room policy.');
          },
        },
      ],
      onAnswer: () => {
        throw new Error('a listener bug');
      },
    });
    lobby.joinVirtual(member);
    const alice = await h.member('alice', 'lobby');
    await alice.say('lobby', '@assistant one');
    expect(await alice.waitFor(isAnswerEnd)).toMatchObject({
      type: 'error',
      data: 'Blocked by the room policy.',
      code: 'AI_FAILED',
    });
    expect(h.replay.requests.items).toEqual([]);
    await member.idle();
    refuse = false;
    await alice.say('lobby', '@assistant two');
    expect(await alice.waitFor(isAnswerEnd)).toMatchObject({ type: 'complete' });
    const reply = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((reply['data'] as { replyTo: unknown }).replyTo).toEqual({ from: 'alice', id: 2 });
  });

  test('messages it cannot read are remembered or ignored, never answered with a failure', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    const answers = new Inbox<RoomAnswer>();
    lobby.joinVirtual(
      llmRoomMember({
        id: 'assistant',
        runtime: h.runtime(),
        answers: 'all',
        onAnswer: (answer) => answers.push(answer),
      }),
    );
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    for (const data of [42, null, [1, 2], { no: 'text' }, '   ', '@assistant', { text: '' }])
      await alice.say('lobby', data);
    await alice.send({ type: 'direct', room: 'lobby', targetId: 'assistant', data: 'a private question' });
    await alice.say('lobby', 'a real question');
    await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((await answers.next()).prompt).toBe('a real question');
    expect(answers.items).toHaveLength(1);
    expect(
      framesOf(bob.frames(), 'assistant')
        .filter((f) => f['key'] === 'room.replyTo')
        .map((f) => f['value']),
    ).toEqual([{ from: 'alice', id: 8 }]);
  });

  test('bad options are refused with INVALID_OPTION; close() leaves every room and settles', async () => {
    expect(() => llmRoomMember({ id: '' })).toThrow(/needs an `id`/);
    expect(() => llmRoomMember({ id: 'x', answers: 'some' as 'all' })).toThrow(
      /`answers` must be one of mentioned, default, all; got some/,
    );
    expect(() => llmRoomMember({ id: 'x', memory: -1 })).toThrow(/`memory` must be an integer >= 0/);
    expect(() => llmRoomMember({ id: 'x', maxQueued: 1.5 })).toThrow(/`maxQueued` must be an integer >= 0/);
    h = await roomsHarness({ steps: [sseStep('openai-text.sse', { pauseAfter: 3 })] });
    const member = llmRoomMember({ id: 'assistant', runtime: h.runtime() });
    const [one, two] = [h.rooms.room('one'), h.rooms.room('two')];
    member.join(one);
    member.join(two);
    expect(() => member.join(one)).toThrow(/already in room one/);
    expect(member.rooms).toEqual([one, two]);
    const alice = await h.member('alice', 'one');
    await alice.say('one', '@assistant hello');
    await alice.waitFor((f) => f.type === 'streaming-text');
    await member.close();
    expect(member.rooms).toEqual([]);
    expect([one.has('assistant'), two.has('assistant')]).toEqual([false, false]);
    expect(await h.replay.aborts.next()).toBe(0);
    await alice.waitFor(
      (f) => f.type === 'presence' && f['action'] === 'leave' && f['memberId'] === 'assistant',
    );
    expect(
      framesOf(alice.frames(), 'assistant')
        .filter((f) => f.type === 'error')
        .map((f) => f['code']),
    ).toEqual(['CANCELLED']);
  });
});
