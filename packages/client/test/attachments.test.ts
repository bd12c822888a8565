import { aiEndpoint, openAiRuntime } from '@atmosphere/ai';
import {
  CONTRACT_IMAGE,
  openAiReceivedImages,
  openAiTranscript,
  type ReplayServer,
  startReplayServer,
} from '@atmosphere/ai/testing';
import type { AiFrame } from '@atmosphere/protocol';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import { Atmosphere, ChatModel, type StreamingHandle, subscribeStreaming } from '../src/index.ts';
import { closeServer, ready } from './helpers.ts';

/**
 * Images sent from the client reach the model: `send(prompt, { attachments })` and `ChatModel.append(text, {
 * attachments })` put them in the JSON prompt; the endpoint's built-in runtime sends them to a replay server
 * speaking the OpenAI wire format, whose received body is checked. A refused image comes back as an error frame
 * with its code, and the connection carries on.
 */
let server: Server | undefined;
let replay: ReplayServer | undefined;
const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
  await closeServer(server);
  server = undefined;
  await replay?.close();
  replay = undefined;
});

const answer = (text: string) =>
  ({ kind: 'sse', body: openAiTranscript({ text: [text.slice(0, 3), text.slice(3)] }) }) as const;

async function start(...texts: string[]): Promise<Server> {
  replay = await startReplayServer(texts.map(answer));
  server = await startTestAtmosphere();
  const endpoint = aiEndpoint(server, {
    path: '/ai',
    conversationMemory: false,
    runtime: openAiRuntime({
      env: {},
      apiKey: 'sk-test-0123456789',
      model: 'gpt-4o-mini',
      baseUrl: replay.baseUrl,
      retry: { maxRetries: 0 },
    }),
  });
  cleanups.push(() => endpoint.close());
  return server;
}

test.each(['websocket', 'long-polling'] as const)(
  '%s: send() with attachments delivers the image bytes to the model; a bad one gets INVALID_ATTACHMENT and nothing is lost',
  async (transport) => {
    const s = await start('A red square.', 'Still here.');
    const errors = new Inbox<AiFrame>(100);
    const texts: string[] = [];
    let text = '';
    const handle: StreamingHandle = subscribeStreaming(
      { url: s.url('/ai'), transport, fallbackTransport: [] },
      {
        onToken: (token) => (text += token),
        onComplete: () => {
          texts.push(text);
          text = '';
        },
        onError: (_message, frame) => errors.push(frame),
      },
      { atmosphere: new Atmosphere() },
    );
    cleanups.push(() => handle.close());
    await ready(handle.subscription);
    handle.send('What colour is it?', { attachments: [CONTRACT_IMAGE] });
    await eventually(() => texts.length === 1, 'the answer');
    expect(texts).toEqual(['A red square.']);
    expect(openAiReceivedImages(replay!.requests.items.at(-1)?.body)).toEqual([CONTRACT_IMAGE]);

    handle.send('And this?', { attachments: [{ ...CONTRACT_IMAGE, data: 'not base64!' }] });
    const refused = await errors.waitFor(() => true);
    expect(refused).toMatchObject({ type: 'error', code: 'INVALID_ATTACHMENT' });
    expect(replay!.requests.items).toHaveLength(1);

    handle.send('Plain text now.');
    await eventually(() => texts.length === 2, 'the next answer');
    expect(texts[1]).toBe('Still here.');
  },
);

test('an object prompt sent with options keeps its own members: its prompt and metadata reach the endpoint beside the images and hints', async () => {
  const s = await start('A red square.');
  const texts: string[] = [];
  const errors: AiFrame[] = [];
  let text = '';
  const handle = subscribeStreaming(
    { url: s.url('/ai'), transport: 'websocket', fallbackTransport: [] },
    {
      onToken: (token) => (text += token),
      onComplete: () => texts.push(text),
      onError: (_message, frame) => errors.push(frame),
    },
    { atmosphere: new Atmosphere() },
  );
  cleanups.push(() => handle.close());
  await ready(handle.subscription);
  handle.send(
    { prompt: 'What colour is it?', metadata: { topic: 'shapes' } },
    { attachments: [CONTRACT_IMAGE], maxCost: 0.01 },
  );
  await eventually(() => texts.length === 1 || errors.length > 0, 'the answer');
  expect(errors).toEqual([]);
  expect(texts).toEqual(['A red square.']);
  expect(openAiReceivedImages(replay!.requests.items.at(-1)?.body)).toEqual([CONTRACT_IMAGE]);
  expect(JSON.stringify(replay!.requests.items.at(-1)?.body)).toContain('What colour is it?');
});

test('ChatModel.append keeps the images on the user message and sends them', async () => {
  const s = await start('Red.');
  const chat = new ChatModel({
    request: { url: s.url('/ai'), transport: 'websocket', fallbackTransport: [] },
    atmosphere: new Atmosphere(),
  });
  chat.connect();
  cleanups.push(() => chat.disconnect());
  await eventually(() => chat.getSnapshot().connectionState === 'connected', 'connected');
  chat.append('Which colour?', { attachments: [CONTRACT_IMAGE] });
  await eventually(() => chat.getSnapshot().messages.at(-1)?.status === 'complete', 'the answer');
  expect(chat.getSnapshot().messages.map((m) => [m.role, m.content, m.attachments])).toEqual([
    ['user', 'Which colour?', [CONTRACT_IMAGE]],
    ['assistant', 'Red.', undefined],
  ]);
  const body = replay!.requests.items.at(-1)?.body;
  expect(openAiReceivedImages(body)).toEqual([CONTRACT_IMAGE]);
});
