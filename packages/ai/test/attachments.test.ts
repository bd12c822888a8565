import { afterEach, describe, expect, test } from 'vitest';
import { eventually } from '@atmosphere/runtime/testing';
import { createAgentContext } from '../src/pipeline/agent-context.ts';
import { runAgent } from '../src/pipeline/run-agent.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { openAiRuntime } from '../src/runtimes/openai/openai-runtime.ts';
import { InMemoryConversationMemory } from '../src/memory/in-memory-conversation-memory.ts';
import {
  collectingSession,
  CONTRACT_IMAGE,
  connectAiClient,
  openAiReceivedImages,
  openAiTranscript,
  type ReplayStep,
} from '../src/testing/index.ts';
import type { AgentRuntime } from '../src/spi/agent-runtime.ts';
import type { ChatPart } from '../src/spi/chat.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const answer = (text: string): ReplayStep => ({
  kind: 'sse',
  body: openAiTranscript({ text: [text.slice(0, 4), text.slice(4)], usage: { prompt: 90, completion: 4 } }),
});

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Base64 of `size` bytes that start as a PNG does (the endpoint checks the signature, not the whole image). */
const png = (size: number): string =>
  Buffer.concat([Buffer.from(PNG_SIGNATURE), Buffer.alloc(size - PNG_SIGNATURE.length, 7)]).toString(
    'base64',
  );
const jpeg = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0, 1]).toString('base64');
const gif = Buffer.from('GIF89a\x01\x00\x01\x00\x00\x00', 'latin1').toString('base64');
const webp = Buffer.from('RIFF\x1a\x00\x00\x00WEBPVP8L', 'latin1').toString('base64');

/** A runtime that reads images and records what each prompt gave it; gated: each answer waits for its release. */
function recordingRuntime(gated: boolean) {
  const seen: { message: string; parts: readonly ChatPart[] }[] = [];
  const releases: (() => void)[] = [];
  const runtime: AgentRuntime = {
    name: 'recording',
    priority: 0,
    capabilities: new Set(['vision']),
    isAvailable: () => true,
    async execute(context, session) {
      seen.push({ message: context.message, parts: context.parts ?? [] });
      session.send(`images:${context.parts?.length ?? 0}`);
      if (gated) await new Promise<void>((resolve) => releases.push(resolve));
      session.complete();
    },
  };
  return { runtime, seen, releases };
}

const prompt = (attachments: unknown, text = 'What is in this image?'): string =>
  JSON.stringify({ prompt: text, attachments });

describe('prompt attachments', () => {
  test.each(['websocket', 'long-polling'] as const)(
    'over %s, the images of a JSON prompt reach the model as data URLs, bytes intact, in order',
    async (transport) => {
      h = await harness({ steps: [answer('A red square.')] });
      const client = await connectAiClient(h.url(), transport);
      const images = [
        CONTRACT_IMAGE,
        { type: 'image', mediaType: 'image/jpeg', data: jpeg },
        { type: 'image', mediaType: 'image/webp', data: webp },
        { type: 'image', mediaType: 'image/gif', data: gif },
      ];
      await client.prompt(prompt(images));
      const result = await client.answer();
      expect(result.end).toMatchObject({ type: 'complete' });
      expect(result.text).toBe('A red square.');
      const body = h.replay!.requests.items.at(-1)?.body;
      expect(openAiReceivedImages(body)).toEqual(images);
      const user = (body?.['messages'] as { role: string; content: unknown }[]).at(-1);
      expect(user).toEqual({
        role: 'user',
        content: [
          { type: 'text', text: 'What is in this image?' },
          ...images.map((i) => ({
            type: 'image_url',
            image_url: { url: `data:${i.mediaType};base64,${i.data}` },
          })),
        ],
      });
      await client.close();
    },
  );

  test('bad attachments get one INVALID_ATTACHMENT frame each, reach no model, and the client carries on', async () => {
    h = await harness({
      steps: [answer('Still here.'), answer('Me too.')],
      attachments: { maxCount: 2, maxBytes: 1024, maxTotalBytes: 1500 },
    });
    const client = await connectAiClient(h.url());
    const bystander = await connectAiClient(h.url());
    const image = (data: string, mediaType = 'image/png') => ({ type: 'image', mediaType, data });
    const html = Buffer.from('<html><script>alert(1)</script></html>').toString('base64');
    const attacks: [unknown, string][] = [
      // Oversized: one image past maxBytes, decoded and still encoded; all of them past maxTotalBytes.
      [
        [image(png(1025))],
        'Attachment 1 has 1025 bytes; the limit per attachment is 1024 (option attachments.maxBytes).',
      ],
      [
        [image(png(1024) + 'A'.repeat(100_000))],
        'Attachment 1 is larger than 1024 bytes, the limit per attachment (option attachments.maxBytes).',
      ],
      [
        [image(png(1000)), image(png(1000))],
        'The attachments have more than 1500 bytes in all, the limit per prompt (option attachments.maxTotalBytes).',
      ],
      // Too many.
      [
        [image(png(10)), image(png(10)), image(png(10))],
        'The prompt has 3 attachments; the limit is 2 (option attachments.maxCount).',
      ],
      // Wrong type: off the allow-list, or bytes of another type than declared.
      [
        [image(png(10), 'image/svg+xml')],
        'Attachment 1: "mediaType" must be one of image/png, image/jpeg, image/webp, image/gif.',
      ],
      [
        [image(png(10), 'text/html')],
        'Attachment 1: "mediaType" must be one of image/png, image/jpeg, image/webp, image/gif.',
      ],
      [
        [image(jpeg)],
        'Attachment 1: its bytes are not of type image/png (the signature does not match "mediaType").',
      ],
      [
        [image(html)],
        'Attachment 1: its bytes are not of type image/png (the signature does not match "mediaType").',
      ],
      // Broken base64.
      [
        [image('iVBORw0K!!!=')],
        'Attachment 1: "data" is not valid base64 (standard alphabet, padded with "=", no spaces or line breaks).',
      ],
      [
        [image('iVBORw0KGgo')],
        'Attachment 1: "data" is not valid base64 (standard alphabet, padded with "=", no spaces or line breaks).',
      ],
      [
        [image('iVBO Rw0K')],
        'Attachment 1: "data" is not valid base64 (standard alphabet, padded with "=", no spaces or line breaks).',
      ],
      [
        [image('iVBORw0K=A==')],
        'Attachment 1: "data" is not valid base64 (standard alphabet, padded with "=", no spaces or line breaks).',
      ],
      // URLs: never fetched.
      [
        [image(`data:image/png;base64,${png(10)}`)],
        'Attachment 1: "data" must be bare base64, not a URL (drop the "data:…;base64," prefix).',
      ],
      [
        [{ type: 'image', mediaType: 'image/png', url: 'http://169.254.169.254/latest/meta-data/' }],
        'Attachment 1: URLs are not accepted (the server does not fetch them); send the image\'s bytes as base64 "data".',
      ],
      // Type confusion.
      [
        { type: 'image', mediaType: 'image/png', data: png(10) },
        '"attachments" must be an array of {"type":"image","mediaType":…,"data":…} objects.',
      ],
      ['iVBORw0K', '"attachments" must be an array of {"type":"image","mediaType":…,"data":…} objects.'],
      [[png(10)], 'Attachment 1 must be an object {"type":"image","mediaType":…,"data":…}.'],
      [[[image(png(10))]], 'Attachment 1 must be an object {"type":"image","mediaType":…,"data":…}.'],
      [[{ ...image(png(10)), type: 'audio' }], 'Attachment 1: "type" must be "image".'],
      [
        [{ type: 'image', mediaType: 'image/png', data: 12345 }],
        'Attachment 1: "data" must be the image\'s bytes as a non-empty base64 string.',
      ],
      [
        [{ type: 'image', mediaType: 'image/png', data: '' }],
        'Attachment 1: "data" must be the image\'s bytes as a non-empty base64 string.',
      ],
      [
        [{ type: 'image', mediaType: ['image/png'], data: png(10) }],
        'Attachment 1: "mediaType" must be one of image/png, image/jpeg, image/webp, image/gif.',
      ],
      [
        [{ ...image(png(10)), extra: 1 }],
        'Attachment 1 has an unknown member "extra"; only type, mediaType and data are allowed.',
      ],
      [[image(png(10)), null], 'Attachment 2 must be an object {"type":"image","mediaType":…,"data":…}.'],
    ];
    const refused: [unknown, string][] = [];
    for (const [attachments] of attacks) {
      await client.prompt(prompt(attachments));
      const result = await client.answer();
      expect(result.frames).toHaveLength(1);
      expect(result.end).toMatchObject({ type: 'error', code: 'INVALID_ATTACHMENT' });
      refused.push([attachments, (result.end as { data: string }).data]);
    }
    expect(refused).toEqual(attacks);
    expect(h.replay!.requests.items).toHaveLength(0);
    // Nothing is lost: the same client, and another, are answered, the image limits as configured.
    await client.prompt(prompt([image(png(1024))]));
    expect((await client.answer()).text).toBe('Still here.');
    expect(openAiReceivedImages(h.replay!.requests.items.at(-1)?.body)).toEqual([image(png(1024))]);
    await bystander.prompt('and me?');
    expect((await bystander.answer()).text).toBe('Me too.');
    await client.close();
    await bystander.close();
  });

  test('attachments.maxCount 0 refuses every image, and keeps the message size limit to the text alone', async () => {
    h = await harness({ steps: [answer('Fine.')], attachments: { maxCount: 0 }, maxPromptLength: 1000 });
    const client = await connectAiClient(h.url());
    await client.prompt(prompt([CONTRACT_IMAGE]));
    expect((await client.answer()).end).toMatchObject({
      type: 'error',
      code: 'INVALID_ATTACHMENT',
      data: 'The prompt has 1 attachments; the limit is 0 (option attachments.maxCount).',
    });
    // Refused unread: the whole message is measured (no allowance for images that may not come).
    const long = prompt([], 'x'.repeat(20_000));
    await client.prompt(long);
    expect((await client.answer()).end).toMatchObject({
      type: 'error',
      code: 'INVALID_PROMPT',
      data: `The prompt has ${long.length} characters; the limit is 1000 (option maxPromptLength).`,
    });
    await client.prompt(prompt([], 'ok?'));
    expect((await client.answer()).text).toBe('Fine.');
    await client.close();
  });

  test('a runtime without vision refuses a prompt with images (UNSUPPORTED_ATTACHMENT), never drops them', async () => {
    const seen: string[] = [];
    h = await harness({
      runtime: demoRuntime({
        delayMs: 0,
        answer: (context) => {
          seen.push(context.message);
          return `You said: ${context.message}`;
        },
      }),
    });
    const client = await connectAiClient(h.url());
    await client.prompt(prompt([CONTRACT_IMAGE]));
    const refused = await client.answer();
    expect(refused.frames).toHaveLength(1);
    expect(refused.end).toMatchObject({
      type: 'error',
      code: 'UNSUPPORTED_ATTACHMENT',
      data: 'The prompt has 1 image attachment, and the agent runtime demo does not declare vision: send the prompt without attachments, or use a runtime that reads images.',
    });
    await client.prompt(prompt([], 'No image this time.'));
    expect((await client.answer()).text).toBe('You said: No image this time.');
    expect(seen).toEqual(['No image this time.']);
    await client.close();
  });

  test('runAgent refuses parts for a runtime without vision, and with vision the memory keeps the text only', async () => {
    const runtime = demoRuntime({ delayMs: 0 });
    const { session, frames } = collectingSession();
    const response = await runAgent({ runtime, session, message: 'Look.', parts: [CONTRACT_IMAGE] });
    expect(response.status).toBe('error');
    expect(frames.items.at(-1)).toMatchObject({ type: 'error', code: 'UNSUPPORTED_ATTACHMENT' });

    h = await harness({ steps: [answer('A red square.'), answer('It was red.')] });
    const memory = new InMemoryConversationMemory();
    const replayRuntime = openAiRuntime({
      env: {},
      apiKey: 'sk-test-0123456789',
      model: 'gpt-4o-mini',
      baseUrl: h.replay!.baseUrl,
      retry: { maxRetries: 0 },
    });
    const first = collectingSession();
    await runAgent({
      runtime: replayRuntime,
      session: first.session,
      message: 'What colour?',
      parts: [CONTRACT_IMAGE],
      memory,
      conversationId: 'c1',
    });
    const second = collectingSession();
    await runAgent({
      runtime: replayRuntime,
      session: second.session,
      message: 'Again?',
      memory,
      conversationId: 'c1',
    });
    const messages = h.replay!.requests.items.at(-1)?.body?.['messages'];
    expect(messages).toEqual([
      { role: 'user', content: 'What colour?' },
      { role: 'assistant', content: 'A red square.' },
      { role: 'user', content: 'Again?' },
    ]);
    expect(createAgentContext({ message: 'x', session: second.session, parts: [] }).messages.at(-1)).toEqual({
      role: 'user',
      content: 'x',
    });
  });

  test('onPrompt sees the images (context.attachments, session.promptAttachments); stream() may replace them', async () => {
    const { runtime, seen } = recordingRuntime(false);
    const given: unknown[] = [];
    h = await harness({
      runtime,
      onPrompt: (text, session, context) => {
        given.push(context.attachments, session.promptAttachments);
        return session.stream(text, { attachments: text === 'none' ? [] : [CONTRACT_IMAGE, CONTRACT_IMAGE] });
      },
    });
    const client = await connectAiClient(h.url());
    const jpegImage = { type: 'image', mediaType: 'image/jpeg', data: jpeg };
    await client.prompt(prompt([jpegImage], 'two'));
    expect((await client.answer()).text).toBe('images:2');
    await client.prompt(prompt([jpegImage], 'none'));
    expect((await client.answer()).text).toBe('images:0');
    expect(given).toEqual([[jpegImage], [jpegImage], [jpegImage], [jpegImage]]);
    expect(seen.map((s) => s.parts.length)).toEqual([2, 0]);
    await client.close();
  });

  test('merge: the folded prompt carries the images of every prompt it folds, in order', async () => {
    const { runtime, seen, releases } = recordingRuntime(true);
    h = await harness({ runtime, whileAnswering: 'merge' });
    const client = await connectAiClient(h.url());
    const jpegImage = { type: 'image', mediaType: 'image/jpeg', data: jpeg };
    const gifImage = { type: 'image', mediaType: 'image/gif', data: gif };
    await client.prompt(prompt([CONTRACT_IMAGE], 'first'));
    await client.waitFor((f) => f.type === 'streaming-text');
    await client.prompt(prompt([jpegImage], 'second'));
    await client.prompt('third, no image');
    await client.prompt(prompt([gifImage, CONTRACT_IMAGE], 'fourth'));
    // A client's messages are handled in order: once this empty prompt is refused, the others have been admitted.
    await client.prompt('');
    await client.waitFor((f) => f.type === 'error' && f.code === 'INVALID_PROMPT');
    releases[0]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'images:3');
    expect(seen).toEqual([
      { message: 'first', parts: [CONTRACT_IMAGE] },
      { message: 'second\n\nthird, no image\n\nfourth', parts: [jpegImage, gifImage, CONTRACT_IMAGE] },
    ]);
    releases[1]!();
    await client.close();
  });

  test('merge within maxPromptLength: the folded text never passes it; the prompts left over fold into the next', async () => {
    const { runtime, seen, releases } = recordingRuntime(true);
    h = await harness({ runtime, whileAnswering: 'merge', maxPromptLength: 10 });
    const client = await connectAiClient(h.url());
    await client.prompt('first');
    await client.waitFor((f) => f.type === 'streaming-text');
    // 'aaaa\n\nbbbb' is 10 characters: fits; with '\n\ncc' it would be 14.
    for (const text of ['aaaa', 'bbbb', 'cc', 'dddddddddd']) await client.prompt(text);
    await client.prompt('');
    await client.waitFor((f) => f.type === 'error' && f.code === 'INVALID_PROMPT');
    for (let i = 0; i < 4; i++) {
      await eventually(() => releases.length > i, `answer ${i + 1} started`);
      releases[i]!();
    }
    await eventually(() => seen.length === 4, 'four answers');
    expect(seen.map((s) => s.message)).toEqual(['first', 'aaaa\n\nbbbb', 'cc', 'dddddddddd']);
    await client.close();
  });

  test('merge within the limits: prompts fold as far as their images fit in one prompt; the rest fold into the next', async () => {
    const { runtime, seen, releases } = recordingRuntime(true);
    h = await harness({ runtime, whileAnswering: 'merge', attachments: { maxCount: 2 } });
    const client = await connectAiClient(h.url());
    const jpegImage = { type: 'image', mediaType: 'image/jpeg', data: jpeg };
    const gifImage = { type: 'image', mediaType: 'image/gif', data: gif };
    await client.prompt('first');
    await client.waitFor((f) => f.type === 'streaming-text');
    await client.prompt(prompt([CONTRACT_IMAGE], 'second'));
    await client.prompt(prompt([jpegImage], 'third'));
    await client.prompt(prompt([gifImage], 'fourth'));
    await client.prompt('fifth, no image');
    await client.prompt('');
    await client.waitFor((f) => f.type === 'error' && f.code === 'INVALID_PROMPT');
    releases[0]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'images:2');
    releases[1]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'images:1');
    releases[2]!();
    await client.waitFor((f) => f.type === 'complete' && seen.length === 3);
    // Never more images in one prompt than the limit; none dropped, none twice, in order.
    expect(seen).toEqual([
      { message: 'first', parts: [] },
      { message: 'second\n\nthird', parts: [CONTRACT_IMAGE, jpegImage] },
      { message: 'fourth\n\nfifth, no image', parts: [gifImage] },
    ]);
    await client.close();
  });
});
