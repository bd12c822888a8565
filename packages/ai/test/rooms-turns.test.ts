import { eventually, Inbox, type TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { llmRoomMember, type RoomAnswer } from '../src/rooms/index.ts';
import { tool } from '../src/tools/tool.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Frame, framesOf, type RoomClient, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');
const isToken = (f: Frame): boolean => f.type === 'streaming-text' && f['from'] === 'assistant';
const steerAcks = (frames: readonly Frame[]) =>
  frames.filter((f) => f['event'] === 'steer' && f['from'] === 'assistant').map((f) => f['data']);
const errors = (frames: readonly Frame[]) =>
  frames.filter((f) => f.type === 'error' && f['room'] === 'lobby');

/** The tool openai-tool-call.sse asks for; it runs only once the test opens the gate. */
function gatedTool() {
  let open!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const running = new Promise<void>((resolve) => (entered = resolve));
  const weather = tool({
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      entered();
      await gate;
      return { city, celsius: 21 };
    },
  });
  return { weather, running, open };
}

/** The session of the assistant's answer in progress, as `client` saw it start. */
async function answerSession(client: RoomClient): Promise<string> {
  const first = await client.waitFor((f) => f['from'] === 'assistant' && f['key'] === 'room.replyTo');
  return first['sessionId'] as string;
}

describe('room AI members: stop and steer the running answer (PROTOCOL.md §8, turns)', () => {
  test.each(['websocket', 'sse', 'streaming', 'long-polling'] as TestTransport[])(
    'over %s a stop aborts the upstream request, ends the answer "stopped" with the usage so far, and says the text so far',
    async (transport) => {
      h = await roomsHarness({
        // A tool round first (its call reports 81 + 15 tokens), then a long answer held open mid-way.
        steps: [sseStep('openai-tool-call.sse'), sseStep('openai-text.sse', { pauseAfter: 4 })],
      });
      const answers = new Inbox<RoomAnswer>();
      h.rooms.room('lobby').joinVirtual(
        llmRoomMember({
          id: 'assistant',
          runtime: h.runtime(),
          tools: [
            tool({
              name: 'get_weather',
              description: 'Current weather of a city',
              parameters: z.object({ city: z.string() }),
              execute: ({ city }) => ({ city, celsius: 21 }),
            }),
          ],
          onAnswer: (answer) => answers.push(answer),
        }),
      );
      const alice = await h.member('alice', 'lobby', transport);
      const bob = await h.member('bob', 'lobby');
      // Right after its join_ack (already read: frames before the last one waited for are consumed).
      expect(alice.frames()[1]).toEqual({
        type: 'ai-role',
        room: 'lobby',
        memberId: 'assistant',
        role: 'owner',
      });
      await alice.say('lobby', '@assistant tell me a long story');
      const sessionId = await answerSession(alice);
      await eventually(() => alice.frames().filter(isToken).length === 3, 'three tokens');
      await alice.send({ type: 'stop', room: 'lobby', memberId: 'assistant', sessionId });
      // The model request is aborted upstream within a second.
      expect(await h.replay.aborts.next(1_000)).toBe(1);
      const end = await bob.waitFor((f) => f.type === 'complete' && f['from'] === 'assistant');
      expect(end).toMatchObject({
        sessionId,
        reason: 'stopped',
        usage: { input: 81, output: 15, cachedInput: 0, total: 96 },
      });
      const said = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
      const text = (said['data'] as { text: string }).text;
      expect(text.length).toBeGreaterThan(0);
      expect(FULL.startsWith(text)).toBe(true);
      expect(text).not.toBe(FULL);
      const answer = await answers.next();
      expect([answer.status, answer.text]).toEqual(['stopped', text]);
      // Both members saw the same frames of the answer, the stopped `complete` once; no error anywhere.
      expect(framesOf(alice.frames(), 'assistant').filter((f) => f['sessionId'] === sessionId)).toEqual(
        framesOf(bob.frames(), 'assistant').filter((f) => f['sessionId'] === sessionId),
      );
      expect(errors([...alice.frames(), ...bob.frames()])).toEqual([]);
      expect(h.replay.requests.items).toHaveLength(2);
    },
  );

  test('a steer sent during a tool round reaches the next model call, with who sent it; acknowledged to the room', async () => {
    const { weather, running, open } = gatedTool();
    h = await roomsHarness({
      steps: [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
    });
    h.rooms
      .room('lobby')
      .joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime(), tools: [weather] }));
    const alice = await h.member('alice', 'lobby', 'long-polling');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', '@assistant weather in Montreal?');
    await running;
    await bob.send({
      type: 'steer',
      room: 'lobby',
      memberId: 'assistant',
      steerId: 'g-1',
      text: 'Answer in French, please.',
    });
    await alice.waitFor((f) => f['event'] === 'steer');
    open();
    await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    const requests = await h.replay.requests.waitForCount(2);
    const messages = requests[1]!.body!['messages'] as { role: string; content: unknown }[];
    expect(messages.at(-2)).toMatchObject({ role: 'tool' });
    expect(messages.at(-1)).toEqual({ role: 'user', content: 'bob: Answer in French, please.' });
    const first = requests[0]!.body!['messages'] as { content: unknown }[];
    expect(first.some((m) => String(m.content).includes('French'))).toBe(false);
    for (const member of [alice, bob])
      expect(steerAcks(member.frames())).toEqual([
        { steerId: 'g-1', status: 'accepted', text: 'bob: Answer in French, please.' },
        { steerId: 'g-1', status: 'applied' },
      ]);
    expect(errors([...alice.frames(), ...bob.frames()])).toEqual([]);
  });

  test.each(['websocket', 'long-polling'] as TestTransport[])(
    'over %s a viewer is told its role, and its stop and steer are refused with FORBIDDEN and change nothing',
    async (transport) => {
      h = await roomsHarness({ steps: [sseStep('openai-text.sse', { pauseAfter: 4 })] });
      const roles: string[] = [];
      h.rooms.room('lobby').joinVirtual(
        llmRoomMember({
          id: 'assistant',
          runtime: h.runtime(),
          role: ({ member, memberId, room }) => {
            roles.push(`${room}/${memberId}/${member.id}`);
            return member.id.startsWith('guest-') ? 'viewer' : 'owner';
          },
        }),
      );
      const alice = await h.member('alice', 'lobby');
      const guest = await h.member('guest-1', 'lobby', transport);
      expect((await guest.waitFor((f) => f.type === 'ai-role'))['role']).toBe('viewer');
      expect(alice.frames().filter((f) => f.type === 'ai-role')).toEqual([
        { type: 'ai-role', room: 'lobby', memberId: 'assistant', role: 'owner' },
      ]);
      expect(roles).toEqual(['lobby/assistant/alice', 'lobby/assistant/guest-1']);
      await alice.say('lobby', '@assistant tell me a long story');
      const sessionId = await answerSession(guest);
      await eventually(() => guest.frames().filter(isToken).length === 3, 'three tokens');
      await guest.send({ type: 'stop', room: 'lobby', memberId: 'assistant', sessionId });
      await guest.send({
        type: 'steer',
        room: 'lobby',
        memberId: 'assistant',
        steerId: 's',
        text: 'Stop it.',
      });
      const refused = [
        await guest.waitFor((f) => f.type === 'error'),
        await guest.waitFor((f) => f.type === 'error'),
      ];
      expect(refused).toEqual([
        {
          type: 'error',
          room: 'lobby',
          code: 'FORBIDDEN',
          data: "This connection's role (viewer) may not stop the answers of assistant in room lobby.",
        },
        {
          type: 'error',
          room: 'lobby',
          code: 'FORBIDDEN',
          data: "This connection's role (viewer) may not steer the answers of assistant in room lobby.",
        },
      ]);
      h.replay.release();
      const said = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
      expect((said['data'] as { text: string }).text).toBe(FULL);
      const end = framesOf(alice.frames(), 'assistant').find((f) => f.type === 'complete');
      expect(end?.['reason']).toBeUndefined();
      expect(steerAcks(alice.frames())).toEqual([]);
      expect(h.replay.aborts.items).toEqual([]);
      expect(errors(alice.frames())).toEqual([]);
    },
  );

  test('roles reach connections already in the room when the AI member joins; a throwing hook gives viewer', async () => {
    h = await roomsHarness();
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    h.rooms.room('lobby').joinVirtual(
      llmRoomMember({
        id: 'assistant',
        runtime: h.runtime(),
        role: ({ member }) => {
          if (member.id === 'bob') throw new Error('directory down');
          return 'steerer';
        },
      }),
    );
    expect(await alice.waitFor((f) => f.type === 'ai-role')).toMatchObject({
      memberId: 'assistant',
      role: 'steerer',
    });
    expect(await bob.waitFor((f) => f.type === 'ai-role')).toMatchObject({
      memberId: 'assistant',
      role: 'viewer',
    });
    // The role frame comes after the presence of the member it is about.
    const bobs = bob.frames();
    expect(bobs.findIndex((f) => f.type === 'ai-role')).toBeGreaterThan(
      bobs.findIndex((f) => f.type === 'presence' && f['memberId'] === 'assistant'),
    );
  });

  test('nothing running, another answer, no such AI member: refused or ignored, each exactly once', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    h.rooms.room('lobby').joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime() }));
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.send({ type: 'stop', room: 'lobby', memberId: 'assistant' });
    expect(await alice.waitFor((f) => f.type === 'error')).toMatchObject({
      code: 'UNKNOWN_RUN',
      data: 'assistant is not answering in room lobby; nothing to stop.',
    });
    await alice.send({ type: 'steer', room: 'lobby', memberId: 'assistant', steerId: 'x', text: 'Shorter.' });
    expect(await alice.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'UNKNOWN_RUN' });
    await alice.send({ type: 'stop', room: 'lobby', memberId: 'bob' });
    expect(await alice.waitFor((f) => f.type === 'error')).toMatchObject({ code: 'NOT_FOUND' });
    await alice.send({
      type: 'stop',
      room: 'lobby',
      memberId: 'assistant',
      sessionId: 'an-answer-that-ended',
    });
    // A stop for an answer that already ended crossed its end: nothing happens. A malformed frame, handled
    // after it in order, is the fence: its error is the only new one.
    await alice.send({
      type: 'steer',
      room: 'lobby',
      memberId: 'assistant',
      steerId: 'no spaces',
      text: 'x',
    });
    expect(await alice.waitFor((f) => f.type === 'error')).toMatchObject({
      data: 'Invalid steerId: expected 1-64 characters of A-Z a-z 0-9 _ -',
    });
    expect(errors(alice.frames())).toHaveLength(4);
    // Someone not in the room may not stop anything there.
    await bob.send({ type: 'leave', room: 'lobby' });
    await bob.send({ type: 'stop', room: 'lobby', memberId: 'assistant' });
    expect(await bob.waitFor((f) => f.type === 'error')).toMatchObject({ data: 'Not a member of this room' });
    // And the member still answers.
    await alice.say('lobby', '@assistant hi');
    const said = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((said['data'] as { text: string }).text).toBe(FULL);
  });
});
