import { eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { llmRoomMember, type RoomAnswer } from '../src/rooms/index.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import {
  CONTRACT_IMAGE,
  CONTRACT_TEXT,
  contractOpenAiSteps,
  openAiReceivedImages,
} from '../src/testing/index.ts';
import type { ChatImagePart } from '../src/spi/chat.ts';
import { sseStep } from './fixtures.ts';
import { isAnswerEnd, type RoomsHarness, roomsHarness } from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A 1×1 GIF. */
const GIF: ChatImagePart = {
  type: 'image',
  mediaType: 'image/gif',
  data: 'R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7',
};

/**
 * An assistant with `whileAnswering: 'merge'` (and these attachment limits) asked "first", held open after three
 * tokens while alice asks `questions` (text and images), then let go: its answers and the model requests.
 */
async function askWhileAnswering(
  questions: readonly (readonly [string, readonly ChatImagePart[]])[],
  limits: { maxCount?: number },
) {
  h = await roomsHarness({
    steps: [
      sseStep('openai-text.sse', { pauseAfter: 4 }),
      ...questions.map(() => sseStep('openai-text.sse')),
    ],
  });
  const harness = h;
  const answers = new Inbox<RoomAnswer>();
  harness.rooms.room('lobby').joinVirtual(
    llmRoomMember({
      id: 'assistant',
      runtime: harness.runtime(),
      whileAnswering: 'merge',
      attachments: limits,
      onAnswer: (answer) => answers.push(answer),
    }),
  );
  const alice = await harness.member('alice', 'lobby');
  await alice.say('lobby', '@assistant first');
  // Held open after three tokens, while the questions with images arrive.
  await eventually(
    () => alice.frames().filter((f) => f.type === 'streaming-text' && f['from'] === 'assistant').length === 3,
    'three tokens',
  );
  for (const [text, attachments] of questions)
    await alice.say('lobby', { text: `@assistant ${text}`, attachments });
  await eventually(
    () => harness.rooms.room('lobby').history().length === questions.length + 1,
    'every question in the room',
  );
  harness.replay.release();
  return { answers, requests: () => harness.replay.requests.items };
}

describe('images with a room question', () => {
  test("a question's images reach a runtime with vision, for that answer only; the room's memory keeps the text", async () => {
    h = await roomsHarness({ steps: [...contractOpenAiSteps().vision, ...contractOpenAiSteps().text] });
    const lobby = h.rooms.room('lobby');
    lobby.joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime() }));
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby', 'sse');
    await alice.say('lobby', { text: '@assistant what colour is this?', attachments: [CONTRACT_IMAGE] });
    const [end] = await Promise.all([alice.waitFor(isAnswerEnd), bob.waitFor(isAnswerEnd)]);
    expect(end).toMatchObject({ type: 'complete' });
    const reply = await bob.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((reply['data'] as { text: string }).text).toBe(CONTRACT_TEXT);
    const asked = h.replay.requests.items[0]!.body!;
    expect(openAiReceivedImages(asked)).toEqual([CONTRACT_IMAGE]);
    const question = (asked['messages'] as { role: string; content: unknown }[]).at(-1)!;
    expect(question.content).toEqual([
      { type: 'text', text: 'alice: what colour is this?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${CONTRACT_IMAGE.data}` } },
    ]);

    // The next question: the earlier one is in the history as text, without its image.
    await bob.say('lobby', '@assistant and now?');
    await alice.waitFor(isAnswerEnd);
    const next = h.replay.requests.items[1]!.body!['messages'] as { role: string; content: unknown }[];
    expect(next.slice(1).map((m) => [m.role, m.content])).toEqual([
      ['user', 'alice: @assistant what colour is this?'],
      ['assistant', CONTRACT_TEXT],
      ['user', 'bob: and now?'],
    ]);
  });

  test('images that do not pass are refused with INVALID_ATTACHMENT before any model call; so are images past the limits', async () => {
    h = await roomsHarness({ steps: contractOpenAiSteps().text });
    const answers = new Inbox<RoomAnswer>();
    h.rooms.room('lobby').joinVirtual(
      llmRoomMember({
        id: 'assistant',
        runtime: h.runtime(),
        attachments: { maxCount: 1 },
        onAnswer: (answer) => answers.push(answer),
      }),
    );
    const alice = await h.member('alice', 'lobby');
    const refusals: [unknown, RegExp][] = [
      // An SVG (scripts inside) is off the allow-list.
      [
        [{ type: 'image', mediaType: 'image/svg+xml', data: CONTRACT_IMAGE.data }],
        /"mediaType" must be one of/,
      ],
      // JPEG declared, PNG bytes.
      [[{ ...CONTRACT_IMAGE, mediaType: 'image/jpeg' }], /not of type image\/jpeg/],
      // A URL instead of bytes.
      [
        [{ type: 'image', mediaType: 'image/png', url: 'http://169.254.169.254/latest' }],
        /URLs are not accepted/,
      ],
      // Two images, the limit is one.
      [[CONTRACT_IMAGE, CONTRACT_IMAGE], /attachments\.maxCount/],
    ];
    for (const [attachments, reason] of refusals) {
      await alice.say('lobby', { text: '@assistant look', attachments });
      const end = await alice.waitFor(isAnswerEnd);
      expect(end).toMatchObject({ type: 'error', code: 'INVALID_ATTACHMENT' });
      expect(end['data']).toMatch(reason);
      expect((await answers.next()).status).toBe('refused');
    }
    expect(h.replay.requests.items).toHaveLength(0);
    // The member keeps answering.
    await alice.say('lobby', '@assistant hello');
    expect(await alice.waitFor(isAnswerEnd)).toMatchObject({ type: 'complete' });
  });

  test('a runtime without vision refuses a question with images (UNSUPPORTED_ATTACHMENT), never answers without them', async () => {
    h = await roomsHarness();
    const runtime = demoRuntime({ delayMs: 0, answer: () => 'Hi.' });
    expect(runtime.capabilities.has('vision')).toBe(false);
    h.rooms.room('lobby').joinVirtual(llmRoomMember({ id: 'assistant', runtime }));
    const alice = await h.member('alice', 'lobby');
    await alice.say('lobby', { text: '@assistant what is this?', attachments: [CONTRACT_IMAGE] });
    const end = await alice.waitFor(isAnswerEnd);
    expect(end).toMatchObject({ type: 'error', code: 'UNSUPPORTED_ATTACHMENT' });
    expect(end['data']).toMatch(/does not declare vision/);
    expect(alice.frames().some((f) => f.type === 'streaming-text' && f['from'] === 'assistant')).toBe(false);
    await alice.say('lobby', '@assistant hello');
    expect(await alice.waitFor(isAnswerEnd)).toMatchObject({ type: 'complete' });
  });

  test('merge: the question folded from those asked meanwhile carries all their images, in order', async () => {
    const { answers, requests } = await askWhileAnswering(
      [
        ['second', [CONTRACT_IMAGE]],
        ['third', [GIF]],
      ],
      {},
    );
    expect((await answers.take(2)).map((a) => [a.prompt, a.status])).toEqual([
      ['first', 'complete'],
      ['second\n\nthird', 'complete'],
    ]);
    expect(openAiReceivedImages(requests()[1]!.body)).toEqual([CONTRACT_IMAGE, GIF]);
  });

  test('merge within the limits: questions fold as far as their images fit in one prompt; the rest fold into the next', async () => {
    const { answers, requests } = await askWhileAnswering(
      [
        ['second', [CONTRACT_IMAGE]],
        ['third', [GIF]],
        ['fourth', [CONTRACT_IMAGE]],
      ],
      { maxCount: 2 },
    );
    expect((await answers.take(3)).map((a) => [a.prompt, a.status])).toEqual([
      ['first', 'complete'],
      ['second\n\nthird', 'complete'],
      ['fourth', 'complete'],
    ]);
    // Never more images in one prompt than the limit; none dropped, in order.
    expect(requests().map((request) => openAiReceivedImages(request.body))).toEqual([
      [],
      [CONTRACT_IMAGE, GIF],
      [CONTRACT_IMAGE],
    ]);
  });

  test('debounce within the limits: the questions of one quiet fold into as many prompts as their images need', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse'), sseStep('openai-text.sse')] });
    const answers = new Inbox<RoomAnswer>();
    h.rooms.room('lobby').joinVirtual(
      llmRoomMember({
        id: 'assistant',
        runtime: h.runtime(),
        whileAnswering: 'debounce',
        // Long enough that the three questions below fall in one quiet on a busy machine.
        debounceMs: 1_500,
        attachments: { maxCount: 2 },
        onAnswer: (answer) => answers.push(answer),
      }),
    );
    const alice = await h.member('alice', 'lobby');
    for (const name of ['a', 'b', 'c'])
      await alice.say('lobby', { text: `@assistant ${name}`, attachments: [CONTRACT_IMAGE] });
    expect((await answers.take(2)).map((a) => [a.prompt, a.status])).toEqual([
      ['a\n\nb', 'complete'],
      ['c', 'complete'],
    ]);
    expect(h.replay.requests.items.map((request) => openAiReceivedImages(request.body))).toEqual([
      [CONTRACT_IMAGE, CONTRACT_IMAGE],
      [CONTRACT_IMAGE],
    ]);
  });

  test('limits that are not integers of 0 or more fail the constructor (INVALID_OPTION)', () => {
    for (const maxCount of [-1, 1.5, Number.NaN])
      expect(() => llmRoomMember({ id: 'assistant', attachments: { maxCount } })).toThrow(
        /LlmRoomMember assistant: `attachments\.maxCount` must be an integer of 0 or more/,
      );
  });
});
