import { eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { llmRoomMember, type RoomAnswer, type RoomWhileAnswering } from '../src/rooms/index.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Frame, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');
const isToken = (f: Frame): boolean => f.type === 'streaming-text' && f['from'] === 'assistant';

/** A room whose assistant has its first answer held open after three tokens; two quick questions follow. */
async function twoQuick(whileAnswering: RoomWhileAnswering, extra: Partial<{ debounceMs: number }> = {}) {
  h = await roomsHarness({
    steps: [
      sseStep('openai-text.sse', { pauseAfter: 4 }),
      sseStep('openai-text.sse'),
      sseStep('openai-text.sse'),
    ],
  });
  const answers = new Inbox<RoomAnswer>();
  const member = llmRoomMember({
    id: 'assistant',
    runtime: h.runtime(),
    whileAnswering,
    ...extra,
    onAnswer: (answer) => answers.push(answer),
  });
  h.rooms.room('lobby').joinVirtual(member);
  const alice = await h.member('alice', 'lobby');
  await alice.say('lobby', '@assistant first');
  // Held open after three tokens (release() lets go only of an answer that is held).
  await eventually(() => alice.frames().filter(isToken).length === 3, 'three tokens');
  await alice.say('lobby', '@assistant second');
  await alice.say('lobby', '@assistant third');
  return { h, answers, member, alice };
}

/** The user messages of the n-th model request. */
async function promptOf(n: number): Promise<string> {
  const requests = await h!.replay.requests.waitForCount(n + 1);
  const messages = requests[n]!.body!['messages'] as { role: string; content: string }[];
  return messages.at(-1)!.content;
}

describe('room AI members: what a question does while the member answers another (whileAnswering)', () => {
  test('queue: answered after the running one, in order', async () => {
    const { h, answers } = await twoQuick('queue');
    h.replay.release();
    expect((await answers.take(3)).map((a) => [a.prompt, a.status])).toEqual([
      ['first', 'complete'],
      ['second', 'complete'],
      ['third', 'complete'],
    ]);
  });

  test('latest: the running answer is stopped (its text so far said), the newest answered, the others dropped', async () => {
    const { h, answers, member } = await twoQuick('latest');
    const first = await answers.next();
    expect(first).toMatchObject({ prompt: 'first', status: 'stopped' });
    expect(FULL.startsWith(first.text) && first.text !== FULL).toBe(true);
    expect(first.reply).toBeDefined();
    expect(await h.replay.aborts.next(1_000)).toBe(0);
    expect(await answers.next()).toMatchObject({ prompt: 'third', status: 'complete', text: FULL });
    await member.idle();
    expect(h.replay.requests.items).toHaveLength(2);
    expect(await promptOf(1)).toBe('alice: third');
  });

  test('merge: the questions asked meanwhile are folded into one answer', async () => {
    const { h, answers } = await twoQuick('merge');
    h.replay.release();
    expect((await answers.take(2)).map((a) => [a.prompt, a.status])).toEqual([
      ['first', 'complete'],
      ['second\n\nthird', 'complete'],
    ]);
    expect(await promptOf(1)).toBe('alice: second\n\nthird');
  });

  test('drop: refused at once with BUSY', async () => {
    const { h, answers, alice } = await twoQuick('drop');
    const refusals = (await answers.take(2)).map((a) => [
      a.prompt,
      a.status,
      (a.error as { code?: string }).code,
    ]);
    expect(refusals).toEqual([
      ['second', 'refused', 'BUSY'],
      ['third', 'refused', 'BUSY'],
    ]);
    await alice.waitFor((f) => f.type === 'error' && f['code'] === 'BUSY');
    h.replay.release();
    expect(await answers.next()).toMatchObject({ prompt: 'first', status: 'complete' });
  });

  test('debounce: questions wait for quiet, then one folded answer', async () => {
    const { h, answers } = await twoQuick('debounce', { debounceMs: 50 });
    // "first" was answered alone after its quiet (the tokens came); the other two fold after theirs.
    h.replay.release();
    expect((await answers.take(2)).map((a) => a.prompt)).toEqual(['first', 'second\n\nthird']);
    expect(await promptOf(1)).toBe('alice: second\n\nthird');
  });
});
