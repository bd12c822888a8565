import { Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test, vi } from 'vitest';
import { llmRoomMember, type RoomAnswer } from '../src/rooms/index.ts';
import { builtInRuntimeProvider, demoRuntimeProvider } from '../src/runtimes/providers.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { framesOf, messagesOf, type RoomsHarness, roomsHarness, streamedText } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  vi.unstubAllEnvs();
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');

describe('an AI member streams its answer to the whole room', () => {
  test('three members on three transports receive the same frames in the same order; the answer is history for a late joiner', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    const answers = new Inbox<RoomAnswer>();
    lobby.joinVirtual(
      llmRoomMember({
        id: 'assistant',
        metadata: { name: 'Assistant' },
        runtime: h.runtime(),
        onAnswer: (a) => answers.push(a),
      }),
    );
    const alice = await h.member('alice', 'lobby', 'websocket');
    const bob = await h.member('bob', 'lobby', 'sse');
    const carol = await h.member('carol', 'lobby', 'long-polling');
    await alice.say('lobby', { text: '@assistant, what does Atmosphere do?' });
    const said = await Promise.all(
      [alice, bob, carol].map((c) => c.waitFor((f) => f.type === 'message' && f['from'] === 'assistant')),
    );

    // Exactly the same frames of the assistant, in the same order, for everyone.
    const seen = [alice, bob, carol].map((c) => framesOf(c.frames(), 'assistant'));
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[2]).toEqual(seen[0]);
    const frames = seen[0]!;
    const sessionId = frames[1]!['sessionId'] as string;
    expect(typeof sessionId).toBe('string');
    // typing on, the AI frames of one session (seq 1..n, tagged with room and member), typing off, the message.
    expect(frames[0]).toEqual({ type: 'typing', room: 'lobby', memberId: 'assistant', typing: true });
    const ai = frames.slice(1, -2);
    expect(ai.map((f) => f['seq'])).toEqual(ai.map((_, i) => i + 1));
    for (const frame of ai) expect(frame).toMatchObject({ room: 'lobby', from: 'assistant', sessionId });
    expect(ai[0]).toEqual({
      room: 'lobby',
      from: 'assistant',
      type: 'metadata',
      key: 'room.replyTo',
      value: { from: 'alice', id: 1 },
      sessionId,
      seq: 1,
    });
    expect(ai[1]).toMatchObject({ type: 'metadata', key: 'ai.model', value: 'gpt-4o-mini' });
    expect(ai.filter((f) => f.type === 'streaming-text').length).toBeGreaterThan(5);
    expect(streamedText(ai, sessionId)).toBe(FULL);
    expect(ai.at(-1)).toEqual({
      room: 'lobby',
      from: 'assistant',
      type: 'complete',
      sessionId,
      seq: ai.length,
    });
    expect(frames.at(-2)).toEqual({ type: 'typing', room: 'lobby', memberId: 'assistant', typing: false });
    const reply = {
      type: 'message',
      room: 'lobby',
      id: 2,
      from: 'assistant',
      data: { text: FULL, sessionId, replyTo: { from: 'alice', id: 1 } },
    };
    expect(frames.at(-1)).toEqual(reply);
    for (const frame of said) expect(frame).toEqual(reply);
    // The others saw alice's question before any frame of the answer.
    for (const client of [bob, carol]) {
      const all = client.frames();
      const question = all.findIndex((f) => f.type === 'message' && f['from'] === 'alice');
      expect(all[question]).toEqual({
        type: 'message',
        room: 'lobby',
        id: 1,
        from: 'alice',
        data: { text: '@assistant, what does Atmosphere do?' },
      });
      const firstOfAnswer = all.findIndex(
        (f) => f['from'] === 'assistant' || (f.type === 'typing' && f['memberId'] === 'assistant'),
      );
      expect(question).toBeGreaterThan(-1);
      expect(question).toBeLessThan(firstOfAnswer);
    }

    // The model got the room context and the question without the mention.
    const request = await h.replay.requests.next();
    const messages = request.body!['messages'] as { role: string; content: string }[];
    expect(messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(messages[0]!.content).toContain(
      'You are Assistant (@assistant), a member of the chat room "lobby"',
    );
    expect(messages[1]!.content).toBe('alice: what does Atmosphere do?');
    expect(await answers.next()).toMatchObject({
      room: 'lobby',
      memberId: 'assistant',
      status: 'complete',
      text: FULL,
      prompt: 'what does Atmosphere do?',
      sessionId,
      reply: { id: 2 },
    });

    // A late joiner replays the room's history: the question and the finished answer, no AI frames.
    const dave = await h.member('dave', 'lobby', 'streaming', { sinceId: 0 });
    await dave.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    const history = dave.frames().filter((f) => f.type === 'message');
    expect(history).toEqual([
      {
        type: 'message',
        room: 'lobby',
        id: 1,
        from: 'alice',
        data: { text: '@assistant, what does Atmosphere do?' },
      },
      reply,
    ]);
    expect(dave.frames().filter((f) => f['sessionId'] !== undefined)).toEqual([]);
    expect(lobby.history().map((m) => m.from)).toEqual(['alice', 'assistant']);
  });

  test('with no runtime it answers with the runtime the registry selected (the demo model when no model is configured)', async () => {
    // What the ai register entry registers: the built-in runtime (no key here, so unavailable) and the demo model.
    h = await roomsHarness({
      atmosphere: { env: {}, providers: [builtInRuntimeProvider(), demoRuntimeProvider()] },
    });
    expect(h.atmosphere.describe().providers.find((p) => p.kind === 'agent-runtime')?.winner).toBe('demo');
    const lobby = h.rooms.room('lobby');
    lobby.joinVirtual(llmRoomMember({ id: 'helper', answers: 'default' }));
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', 'How do rooms work?');
    const message = await bob.waitFor((f) => f.type === 'message' && f['from'] === 'helper', 15_000);
    const data = message['data'] as { text: string; sessionId: string; replyTo: unknown };
    expect(data.text).toContain("I'm the demo model");
    expect(data.text).toContain('You asked: “alice: How do rooms work?”');
    expect(data.replyTo).toEqual({ from: 'alice', id: 1 });
    const frames = framesOf(bob.frames(), 'helper');
    expect(streamedText(frames, data.sessionId)).toBe(data.text);
    expect(frames.find((f) => f['key'] === 'ai.model')?.['value']).toBe('demo');
    expect(frames.filter((f) => f.type === 'typing').map((f) => f['typing'])).toEqual([true, false]);
    expect(messagesOf(alice.frames(), 'helper')).toEqual([message]);
    // The replay server (the only model reachable) was never asked.
    expect(h.replay.requests.items).toEqual([]);
  });

  test('one selection path: an adapter that wins the registry answers in rooms as it does at AI endpoints', async () => {
    const adapter = demoRuntimeProvider({
      name: 'adapter',
      priority: 100,
      delayMs: 0,
      answer: () => 'Answered by the adapter.',
    });
    h = await roomsHarness({ atmosphere: { env: {}, providers: [demoRuntimeProvider(), adapter] } });
    expect(h.atmosphere.describe().providers.find((p) => p.kind === 'agent-runtime')?.winner).toBe('adapter');
    h.rooms.room('lobby').joinVirtual(llmRoomMember({ id: 'helper', answers: 'default' }));
    const alice = await h.member('alice', 'lobby');
    await alice.say('lobby', 'Who answers?');
    const message = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'helper', 15_000);
    expect((message['data'] as { text: string }).text).toBe('Answered by the adapter.');
  });

  test('with no runtime selected at all the question gets an error frame naming the fix; the room keeps working', async () => {
    h = await roomsHarness();
    h.rooms.room('lobby').joinVirtual(llmRoomMember({ id: 'helper', answers: 'default' }));
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', 'Anyone?');
    const error = await bob.waitFor((f) => f['from'] === 'helper' && f.type === 'error', 15_000);
    expect(error['code']).toBe('PROVIDER_UNAVAILABLE');
    expect(String(error['data'])).toMatch(/@atmosphere\/ai\/register/);
    await bob.say('lobby', 'still here');
    await alice.waitFor((f) => f.type === 'message' && f['from'] === 'bob');
  });

  test('the room conversation goes with each question, bounded by `memory`', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse'), sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    const member = llmRoomMember({
      id: 'assistant',
      runtime: h.runtime(),
      memory: 3,
      systemPrompt: 'Be brief.',
    });
    lobby.joinVirtual(member);
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', 'hello everyone');
    await bob.waitFor((f) => f['data'] === 'hello everyone');
    await alice.say('lobby', { text: '@assistant first question' });
    await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    await member.idle();
    await bob.say('lobby', { text: 'a number', value: 42 });
    await alice.waitFor((f) => f['from'] === 'bob');
    await bob.say('lobby', [1, 2, 3]); // no text: not remembered
    await bob.say('lobby', { text: 'thanks @Assistant! second question' });
    await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant' && f['id'] === 7);
    const [first, second] = [await h.replay.requests.next(), await h.replay.requests.next()];
    const conversation = (request: typeof first): string[] =>
      (request.body!['messages'] as { role: string; content: string }[]).map((m) => `${m.role}|${m.content}`);
    const system = conversation(first)[0]!;
    expect(
      system.startsWith('system|Be brief.\n\nYou are @assistant, a member of the chat room "lobby"'),
    ).toBe(true);
    expect(conversation(first)).toEqual([system, 'user|alice: hello everyone', 'user|alice: first question']);
    // The last 3 room messages before the question, its own answer among them; the question last.
    expect(conversation(second)).toEqual([
      system,
      `user|alice: @assistant first question`,
      `assistant|${FULL}`,
      'user|bob: a number',
      'user|bob: thanks! second question',
    ]);
  });

  test('what the room said before it sat down is context too; `client` configures the built-in runtime', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby');
    await alice.say('lobby', 'we deploy on Fridays');
    await bob.waitFor((f) => f['data'] === 'we deploy on Fridays');
    await lobby.broadcast({ text: 'maintenance at 18:00' });
    const replay = h.replay;
    lobby.joinVirtual(
      llmRoomMember({
        id: 'ops',
        client: { env: {}, apiKey: 'sk-test-rooms-key-0123456789', model: 'gpt-4o', baseUrl: replay.baseUrl },
        systemPrompt: ({ room, memberId }) => `${memberId} of ${room}`,
      }),
    );
    await bob.waitFor((f) => f.type === 'presence' && f['memberId'] === 'ops');
    await bob.say('lobby', '@ops when do we deploy?');
    await alice.waitFor((f) => f.type === 'message' && f['from'] === 'ops');
    const body = (await replay.requests.next()).body!;
    expect(body['model']).toBe('gpt-4o');
    expect(
      (body['messages'] as { role: string; content: string }[]).map((m) => `${m.role}|${m.content}`),
    ).toEqual([
      'system|ops of lobby',
      'user|alice: we deploy on Fridays',
      'user|room: maintenance at 18:00',
      'user|bob: when do we deploy?',
    ]);
  });
});
