import { Atmosphere } from '@atmosphere/client';
import { steerMessage } from '@atmosphere/protocol';
import { eventually } from '@atmosphere/runtime/testing';
import { readUIMessageStream, type UIMessage, type UIMessageChunk } from 'ai';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { AtmosphereChatTransport, type RunStorage } from '../src/chat/index.ts';
import { HELLO, STORY, STORY_WORDS } from './chat-model.ts';
import { type ChatServer, startChatServer } from './chat-server.ts';

let server: ChatServer;
const clients: Atmosphere[] = [];

beforeAll(async () => {
  server = await startChatServer();
});
afterAll(async () => {
  await server.close();
});
afterEach(async () => {
  server.gate.openAfter = undefined;
  server.gate.open();
  for (const client of clients.splice(0)) await client.closeAll();
});

function memoryStorage(): RunStorage & { map: Map<string, string> } {
  const map = new Map<string, string>();
  return {
    map,
    getItem: (key) => map.get(key) ?? null,
    setItem: (key, value) => void map.set(key, value),
    removeItem: (key) => void map.delete(key),
  };
}

function transport(storage: RunStorage, transportName: 'websocket' | 'sse' | 'long-polling' = 'websocket') {
  const client = new Atmosphere();
  clients.push(client);
  return new AtmosphereChatTransport({
    url: server.url(),
    atmosphere: client,
    storage,
    request: { transport: transportName, reconnectInterval: 50 },
  });
}

function userMessage(text: string, id = `u-${text}`): UIMessage {
  return { id, role: 'user', parts: [{ type: 'text', text }] };
}

async function lastMessage(stream: ReadableStream<UIMessageChunk>, start?: UIMessage): Promise<UIMessage> {
  let last: UIMessage | undefined = start;
  for await (const message of readUIMessageStream({ stream, ...(start ? { message: start } : {}) }))
    last = message;
  if (!last) throw new Error('the stream produced no message');
  return last;
}

function textOf(message: UIMessage): string {
  return message.parts.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

describe('AtmosphereChatTransport (useChat over Atmosphere) against an aiEndpoint', () => {
  test.each(['websocket', 'sse', 'long-polling'] as const)(
    'over %s: sendMessages streams the answer as UI message chunks, with usage as message metadata',
    async (name) => {
      const chat = transport(memoryStorage(), name);
      const stream = await chat.sendMessages({
        trigger: 'submit-message',
        chatId: `chat-hello-${name}`,
        messageId: undefined,
        messages: [userMessage('hello there')],
        abortSignal: undefined,
      });
      const chunks: UIMessageChunk[] = [];
      const [a, b] = stream.tee();
      const reading = (async () => {
        for await (const chunk of a) chunks.push(chunk);
      })();
      const message = await lastMessage(b);
      await reading;
      expect(textOf(message)).toBe(HELLO);
      expect(chunks.filter((c) => c.type === 'text-delta').map((c) => c.delta)).toEqual([
        'Hello',
        ' from',
        ' Atmosphere',
        '.',
      ]);
      expect(chunks[0]).toEqual({ type: 'start' });
      expect(chunks.at(-1)).toMatchObject({
        type: 'finish',
        finishReason: 'stop',
        messageMetadata: { usage: { input: 20, output: 10, total: 30 }, model: 'chat-model' },
      });
      // The conversation is kept under the chat's id (the endpoint's conversationId reads the metadata).
      expect(await server.memory.history(`chat:chat-hello-${name}`)).toEqual([
        { role: 'user', content: 'hello there' },
        { role: 'assistant', content: HELLO },
      ]);
    },
  );

  test('a tool call waits for approval: the stream pauses at the request, the answer continues the same run', async () => {
    const chat = transport(memoryStorage());
    const calls = server.weatherCalls.length;
    const first = await chat.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-weather',
      messageId: undefined,
      messages: [userMessage('weather in Montreal?')],
      abortSignal: undefined,
    });
    const paused = await lastMessage(first);
    const toolPart = paused.parts.find((part) => part.type === 'tool-weather') as
      { state: string; input: unknown; approval?: { id: string }; toolCallId: string } | undefined;
    expect(toolPart).toMatchObject({
      state: 'approval-requested',
      input: { city: 'Montreal' },
      toolCallId: 'call_weather_1',
    });
    expect(server.weatherCalls.length).toBe(calls);
    // What useChat's addToolApprovalResponse does to the message, then its automatic request.
    const answered: UIMessage = {
      ...paused,
      parts: paused.parts.map((part) =>
        part === (toolPart as unknown)
          ? { ...part, state: 'approval-responded', approval: { id: toolPart!.approval!.id, approved: true } }
          : part,
      ) as UIMessage['parts'],
    };
    const second = await chat.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-weather',
      messageId: answered.id,
      messages: [userMessage('weather in Montreal?'), answered],
      abortSignal: undefined,
    });
    // (readUIMessageStream updates the message it starts from: give it a copy.)
    const done = await lastMessage(second, structuredClone(answered));
    expect(server.weatherCalls.slice(calls)).toEqual([{ city: 'Montreal' }]);
    expect(done.parts.find((part) => part.type === 'tool-weather')).toMatchObject({
      state: 'output-available',
      output: { city: 'Montreal', celsius: 21 },
    });
    expect(textOf(done)).toBe('It is 21°C in Montreal.');
    // The same answer again finds no approval waiting: an error, not the question asked a second time.
    const again = await chat.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-weather',
      messageId: answered.id,
      messages: [userMessage('weather in Montreal?'), answered],
      abortSignal: undefined,
    });
    const chunks: UIMessageChunk[] = [];
    for await (const chunk of again) chunks.push(chunk);
    expect(chunks).toEqual([
      { type: 'error', errorText: expect.stringMatching(/no longer pending/) as string },
    ]);
    expect(server.weatherCalls.slice(calls)).toEqual([{ city: 'Montreal' }]);
  });

  test('a denied call never runs; the part ends output-denied and the model is told', async () => {
    const chat = transport(memoryStorage());
    const calls = server.weatherCalls.length;
    const paused = await lastMessage(
      await chat.sendMessages({
        trigger: 'submit-message',
        chatId: 'chat-deny',
        messageId: undefined,
        messages: [userMessage('weather please')],
        abortSignal: undefined,
      }),
    );
    const part = paused.parts.find((p) => p.type === 'tool-weather') as { approval: { id: string } };
    const answered: UIMessage = {
      ...paused,
      parts: paused.parts.map((p) =>
        p === (part as unknown)
          ? { ...p, state: 'approval-responded', approval: { id: part.approval.id, approved: false } }
          : p,
      ) as UIMessage['parts'],
    };
    const done = await lastMessage(
      await chat.sendMessages({
        trigger: 'submit-message',
        chatId: 'chat-deny',
        messageId: answered.id,
        messages: [userMessage('weather please'), answered],
        abortSignal: undefined,
      }),
      answered,
    );
    expect(server.weatherCalls.length).toBe(calls);
    expect(done.parts.find((p) => p.type === 'tool-weather')).toMatchObject({ state: 'output-denied' });
    expect(textOf(done)).toBe('I could not check the weather.');
  });

  test('aborting sendMessages stops the run on the server (a stop message): the text so far stands', async () => {
    server.gate.openAfter = 5;
    const chat = transport(memoryStorage());
    const controller = new AbortController();
    const stream = await chat.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-stop',
      messageId: undefined,
      messages: [userMessage('story time')],
      abortSignal: controller.signal,
    });
    const reader = stream.getReader();
    let text = '';
    while (text.split(' ').length <= 5) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended before the stop');
      if (value.type === 'text-delta') text += value.delta;
    }
    controller.abort();
    await reader.cancel();
    await eventually(() => server.endpoint.active === 0, 'the run ends on the server');
    const history = await server.memory.history('chat:chat-stop');
    expect(history[1]?.content).toBe(STORY_WORDS.slice(0, 5).join(''));
    // The connection stays: the same transport answers the next prompt.
    expect(chat.handle?.subscription.state).toBe('connected');
    expect(
      textOf(
        await lastMessage(
          await chat.sendMessages({
            trigger: 'submit-message',
            chatId: 'chat-stop',
            messageId: undefined,
            messages: [userMessage('hello again')],
            abortSignal: undefined,
          }),
        ),
      ),
    ).toBe(HELLO);
  });

  test('reconnectToStream after a reload replays the run from its start and follows it live, exactly', async () => {
    server.gate.openAfter = 10;
    const storage = memoryStorage();
    const before = transport(storage);
    const stream = await before.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-reload',
      messageId: undefined,
      messages: [userMessage('story again')],
      abortSignal: undefined,
    });
    const reader = stream.getReader();
    let seen = 0;
    while (seen < 10) {
      const { value } = await reader.read();
      if (value?.type === 'text-delta') seen++;
    }
    expect(storage.map.get('atmosphere-chat-run:chat-reload')).toMatch(/\S/);
    // The page goes away without a word (no close request), as a reload does; a new page opens.
    await reader.cancel();
    const after = transport(storage);
    const resumed = await after.reconnectToStream({ chatId: 'chat-reload' });
    expect(resumed).not.toBeNull();
    server.gate.open();
    const message = await lastMessage(resumed!);
    expect(textOf(message)).toBe(STORY);
    expect(storage.map.has('atmosphere-chat-run:chat-reload')).toBe(false);
    // Nothing to resume once the run is over.
    expect(await transport(storage).reconnectToStream({ chatId: 'chat-reload' })).toBeNull();
  });

  test('a connection that gives up fails the answer instead of leaving it waiting', async () => {
    const client = new Atmosphere();
    clients.push(client);
    const unreachable = new AtmosphereChatTransport({
      url: 'http://127.0.0.1:9/ai/chat',
      atmosphere: client,
      storage: null,
      request: { fallbackTransport: [], reconnectInterval: 10, maxReconnectOnClose: 1, connectTimeout: 500 },
    });
    const stream = await unreachable.sendMessages({
      trigger: 'submit-message',
      chatId: 'chat-unreachable',
      messageId: undefined,
      messages: [userMessage('hello')],
      abortSignal: undefined,
    });
    const reader = stream.getReader();
    expect(await reader.read()).toEqual({ done: false, value: { type: 'start' } });
    expect(await reader.read()).toEqual({ done: false, value: { type: 'start-step' } });
    await expect(reader.read()).rejects.toThrow(/connection to http:\/\/127\.0\.0\.1:9\/ai\/chat failed/);
  });

  test('a run id the server does not know resumes nothing', async () => {
    const storage = memoryStorage();
    storage.setItem('atmosphere-chat-run:chat-gone', 'no-such-run');
    expect(await transport(storage).reconnectToStream({ chatId: 'chat-gone' })).toBeNull();
    // The run is forgotten; what stays is the session token of the connection.
    expect([...storage.map.keys()]).toEqual([`atmosphere-chat-session:${server.url()}`]);
  });

  describe('a reloaded page presents the session token it kept: it owns the run it resumes', () => {
    /** Messages the server sent to a transport's connection (refusals of what it may not do included). */
    function heard(chat: AtmosphereChatTransport): string[] {
      const texts: string[] = [];
      chat.handle!.subscription.on('message', (message) => void texts.push(message.text));
      return texts;
    }
    const forbidden = (texts: readonly string[]) => texts.some((t) => t.includes('"code":"FORBIDDEN"'));

    test('the reloaded page answers the approval of its run; a page of another session may not', async () => {
      const storage = memoryStorage();
      const calls = server.weatherCalls.length;
      const paused = await lastMessage(
        await transport(storage).sendMessages({
          trigger: 'submit-message',
          chatId: 'chat-owner-approval',
          messageId: undefined,
          messages: [userMessage('weather in Montreal?')],
          abortSignal: undefined,
        }),
      );
      const token = storage.map.get(`atmosphere-chat-session:${server.url()}`);
      expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const approvalId = (paused.parts.find((p) => p.type === 'tool-weather') as { approval: { id: string } })
        .approval.id;
      const answered: UIMessage = {
        ...paused,
        parts: paused.parts.map((p) =>
          p.type === 'tool-weather'
            ? { ...p, state: 'approval-responded', approval: { id: approvalId, approved: true } }
            : p,
        ) as UIMessage['parts'],
      };
      const answer = (chat: AtmosphereChatTransport) =>
        chat.sendMessages({
          trigger: 'submit-message',
          chatId: 'chat-owner-approval',
          messageId: answered.id,
          messages: [userMessage('weather in Montreal?'), answered],
          abortSignal: undefined,
        });

      // A page of another session (it only has the run id) follows the run, but its answer is refused.
      const otherStorage = memoryStorage();
      otherStorage.setItem(
        'atmosphere-chat-run:chat-owner-approval',
        storage.map.get('atmosphere-chat-run:chat-owner-approval')!,
      );
      const other = transport(otherStorage);
      const watched = await lastMessage((await other.reconnectToStream({ chatId: 'chat-owner-approval' }))!);
      expect(watched.parts.find((p) => p.type === 'tool-weather')).toMatchObject({
        state: 'approval-requested',
      });
      const otherHeard = heard(other);
      void (await answer(other)).cancel();
      await eventually(() => forbidden(otherHeard), 'the refusal of the other session');
      expect(server.endpoint.approvals.size).toBeGreaterThan(0);
      expect(server.weatherCalls.length).toBe(calls);

      // The reloaded page: the same storage, so the same session; its answer is the owner's.
      const reloaded = transport(storage);
      await lastMessage((await reloaded.reconnectToStream({ chatId: 'chat-owner-approval' }))!);
      expect(storage.map.get(`atmosphere-chat-session:${server.url()}`)).toBe(token);
      const done = await lastMessage(await answer(reloaded), structuredClone(answered));
      expect(server.weatherCalls.slice(calls)).toEqual([{ city: 'Montreal' }]);
      expect(textOf(done)).toBe('It is 21°C in Montreal.');
    });

    test("useChat's stop() on the resumed stream stops the run; the same from another session does not", async () => {
      server.gate.openAfter = 5;
      const storage = memoryStorage();
      const reader = (
        await transport(storage).sendMessages({
          trigger: 'submit-message',
          chatId: 'chat-owner-stop',
          messageId: undefined,
          messages: [userMessage('story to stop')],
          abortSignal: undefined,
        })
      ).getReader();
      let words = 0;
      while (words < 5) if ((await reader.read()).value?.type === 'text-delta') words++;
      await reader.cancel();

      const otherStorage = memoryStorage();
      otherStorage.setItem(
        'atmosphere-chat-run:chat-owner-stop',
        storage.map.get('atmosphere-chat-run:chat-owner-stop')!,
      );
      const other = transport(otherStorage);
      const otherStop = new AbortController();
      const watching = await other.reconnectToStream({
        chatId: 'chat-owner-stop',
        abortSignal: otherStop.signal,
      });
      expect(watching).not.toBeNull();
      const otherHeard = heard(other);
      otherStop.abort();
      await eventually(() => forbidden(otherHeard), 'the refusal of the other session');
      expect(server.endpoint.active).toBe(1);

      const stop = new AbortController();
      const resumed = await transport(storage).reconnectToStream({
        chatId: 'chat-owner-stop',
        abortSignal: stop.signal,
      });
      expect(resumed).not.toBeNull();
      stop.abort();
      await eventually(() => server.endpoint.active === 0, 'the run to stop');
      expect((await server.memory.history('chat:chat-owner-stop'))[1]?.content).toBe(
        STORY_WORDS.slice(0, 5).join(''),
      );
    });

    test('a resumed stream superseded by a newer reconnectToStream (useChat aborts the older one) stops nothing', async () => {
      server.gate.openAfter = 3;
      const chat = transport(memoryStorage());
      const reader = (
        await chat.sendMessages({
          trigger: 'submit-message',
          chatId: 'chat-supersede',
          messageId: undefined,
          messages: [userMessage('story to resume twice')],
          abortSignal: undefined,
        })
      ).getReader();
      let words = 0;
      while (words < 3) if ((await reader.read()).value?.type === 'text-delta') words++;
      await reader.cancel();
      const older = new AbortController();
      const first = await chat.reconnectToStream({ chatId: 'chat-supersede', abortSignal: older.signal });
      expect(first).not.toBeNull();
      // What useChat's makeRequest does on a second resume: abort the older request, call the transport again.
      older.abort();
      const second = await chat.reconnectToStream({
        chatId: 'chat-supersede',
        abortSignal: new AbortController().signal,
      });
      void first!.cancel();
      // A fence: the server handles a connection's messages in order, so once this one is answered, a stop
      // sent before it would have been handled.
      const texts: string[] = [];
      chat.handle!.subscription.on('message', (message) => void texts.push(message.text));
      chat.handle!.subscription.push(steerMessage('no-such-run', 'fence', 'x'));
      await eventually(() => texts.some((t) => t.includes('fence')), 'the fence');
      expect(server.endpoint.active).toBe(1);
      server.gate.open();
      expect(textOf(await lastMessage(second!))).toBe(STORY);
    });
  });
});
