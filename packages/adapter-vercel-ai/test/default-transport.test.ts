import { eventually } from '@atmosphere/runtime/testing';
import { DefaultChatTransport, readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { HELLO, STORY, STORY_WORDS } from './chat-model.ts';
import { type ChatServer, startChatServer } from './chat-server.ts';

let server: ChatServer;

beforeAll(async () => {
  server = await startChatServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(() => {
  server.gate.openAfter = undefined;
  server.gate.open();
});

const stock = (path = '/api/chat') => new DefaultChatTransport<UIMessage>({ api: server.url(path) });
const user = (text: string): UIMessage => ({
  id: `u-${text}`,
  role: 'user',
  parts: [{ type: 'text', text }],
});
const textOf = (message: UIMessage) => message.parts.map((p) => (p.type === 'text' ? p.text : '')).join('');

async function lastMessage(stream: ReadableStream<UIMessageChunk>, start?: UIMessage): Promise<UIMessage> {
  let last = start;
  for await (const message of readUIMessageStream({ stream, ...(start ? { message: start } : {}) }))
    last = message;
  if (!last) throw new Error('the stream produced no message');
  return last;
}

function send(chatId: string, messages: UIMessage[], abortSignal?: AbortSignal, path?: string) {
  return stock(path).sendMessages({
    trigger: 'submit-message',
    chatId,
    messageId: undefined,
    messages,
    abortSignal,
  });
}

describe("the AI SDK's stock DefaultChatTransport against uiMessageStreamEndpoint", () => {
  test('a post streams the answer (UI message stream over SSE)', async () => {
    const response = await fetch(server.url('/api/chat'), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ id: 'http-raw', messages: [user('hello raw')], trigger: 'submit-message' }),
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('x-vercel-ai-ui-message-stream')).toBe('v1');
    const body = await response.text();
    expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(textOf(await lastMessage(await send('http-hello', [user('hello')])))).toBe(HELLO);
  });

  test('a tool call with approval: the answer comes with the next post, the same run goes on', async () => {
    const calls = server.weatherCalls.length;
    const paused = await lastMessage(await send('http-weather', [user('weather?')]));
    const part = paused.parts.find((p) => p.type === 'tool-weather') as {
      state: string;
      approval: { id: string };
    };
    expect(part.state).toBe('approval-requested');
    const answered: UIMessage = {
      ...paused,
      parts: paused.parts.map((p) =>
        p === (part as unknown)
          ? { ...p, state: 'approval-responded', approval: { id: part.approval.id, approved: true } }
          : p,
      ) as UIMessage['parts'],
    };
    const done = await lastMessage(await send('http-weather', [user('weather?'), answered]), answered);
    expect(server.weatherCalls.slice(calls)).toEqual([{ city: 'Montreal' }]);
    expect(textOf(done)).toBe('It is 21°C in Montreal.');
  });

  test('a client that goes away mid-answer resumes with GET …/stream: the whole answer, exactly once', async () => {
    server.gate.openAfter = 8;
    const controller = new AbortController();
    const reader = (await send('http-resume', [user('story')], controller.signal)).getReader();
    let words = 0;
    while (words < 8) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') words++;
    }
    controller.abort();
    await reader.cancel().catch(() => undefined);
    const resumed = await stock().reconnectToStream({ chatId: 'http-resume' });
    expect(resumed).not.toBeNull();
    server.gate.open();
    expect(textOf(await lastMessage(resumed!))).toBe(STORY);
    // Finished: the next resume has nothing to say.
    expect(await stock().reconnectToStream({ chatId: 'http-resume' })).toBeNull();
    expect(await stock().reconnectToStream({ chatId: 'never-seen' })).toBeNull();
  });

  test("with onClientGone 'stop', aborting the request stops the run: the text so far stands", async () => {
    server.gate.openAfter = 4;
    const controller = new AbortController();
    const reader = (
      await send('http-stop', [user('story')], controller.signal, '/api/chat-stop')
    ).getReader();
    let words = 0;
    while (words < 4) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') words++;
    }
    controller.abort();
    await reader.cancel().catch(() => undefined);
    await eventually(() => server.endpoint.active === 0, 'the run stops');
    expect((await server.memory.history('chat:http-stop'))[1]?.content).toBe(
      STORY_WORDS.slice(0, 4).join(''),
    );
  });

  test('bad requests are refused with a clear status and the endpoint keeps serving', async () => {
    const post = (body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) =>
      fetch(server.url('/api/chat'), { method: 'POST', headers, body });
    const notJson = await post('{"id":');
    expect(notJson.status).toBe(400);
    expect(((await notJson.json()) as { error: string }).error).toMatch(/JSON/);
    expect((await post(JSON.stringify({ id: '../etc', messages: [] }))).status).toBe(400);
    expect((await post(JSON.stringify({ id: 'ok', messages: 'nope' }))).status).toBe(400);
    expect((await post(JSON.stringify({ id: 'ok', messages: [] }))).status).toBe(400);
    expect((await post('x'.repeat(2 * 1024 * 1024))).status).toBe(413);
    expect((await post(`${'['.repeat(10_000)}${']'.repeat(10_000)}`)).status).toBe(400);
    expect((await fetch(server.url('/api/chat'))).status).toBe(405);
    expect((await fetch(server.url('/api/chat/bad%20id/stream'))).status).toBe(400);
    expect(textOf(await lastMessage(await send('http-after-attacks', [user('hello')])))).toBe(HELLO);
  });
});
