import type { Socket } from 'node:net';
import { rm } from 'node:fs/promises';
import { CHROMIUM_EXECUTABLE, CHROMIUM_LAUNCH_OPTIONS, hasChromium } from '@atmosphere/runtime/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { HELLO, STORY, STORY_WORDS } from '../chat-model.ts';
import { type ChatServer, startChatServer } from '../chat-server.ts';
import { buildPages } from './build.ts';
import { serveStatic } from './static.ts';

interface Snapshot {
  status: string;
  error: string | undefined;
  messages: { role: string; text: string; tools: { type: string; state: string; output?: unknown }[] }[];
}

let browser: Browser;
let pages: string;
let server: ChatServer;
let page: Page | undefined;
const sockets = new Set<Socket>();
let chats = 0;

beforeAll(async () => {
  if (!hasChromium())
    throw new Error(`${CHROMIUM_EXECUTABLE} is missing: install it (apt-get install -y chromium).`);
  [browser, pages, server] = await Promise.all([
    chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] }),
    buildPages(),
    startChatServer(),
  ]);
  serveStatic(server.atmosphere, pages);
  server.atmosphere.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await server?.close();
  await rm(pages, { recursive: true, force: true });
});

afterEach(async () => {
  server.gate.openAfter = undefined;
  server.gate.open();
  await page?.close();
  page = undefined;
});

async function open(
  kind: 'react' | 'vue',
  query: Record<string, string>,
): Promise<{ page: Page; chatId: string }> {
  const chatId = `browser-${++chats}`;
  const opened = await browser.newPage();
  page = opened;
  const errors: Error[] = [];
  opened.on('pageerror', (error) => errors.push(error));
  const search = new URLSearchParams({ chat: chatId, ...query });
  await opened.goto(`${server.url(`/static/${kind}-chat.html`)}?${search}`);
  await opened.waitForFunction(() => document.title === 'chat ready', undefined, { timeout: 10_000 });
  expect(errors).toEqual([]);
  return { page: opened, chatId };
}

/** Re-checks an asynchronous condition (a page's state, the server's memory) until it holds, bounded in time. */
async function eventually(
  condition: () => Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const state = (target: Page): Promise<Snapshot> =>
  target.evaluate(() => (window as unknown as { chat: Snapshot }).chat);

/** Waits until the page's chat satisfies `check`; a timeout says what the page showed. */
async function until(
  target: Page,
  what: string,
  check: (chat: Snapshot) => boolean,
  timeoutMs = 10_000,
): Promise<Snapshot> {
  let last: Snapshot | undefined;
  try {
    await eventually(
      async () => {
        last = await state(target);
        return last !== undefined && check(last);
      },
      what,
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${what}: the page showed ${JSON.stringify(last)}`, { cause: error });
  }
  return last!;
}

async function ask(target: Page, text: string): Promise<void> {
  await target.fill('#prompt', text);
  await target.click('#send');
}

const assistant = (chat: Snapshot) => chat.messages.filter((m) => m.role === 'assistant');
const answer = (chat: Snapshot) => assistant(chat).at(-1)?.text ?? '';
const words = (chat: Snapshot) => answer(chat).split(' ').filter(Boolean).length;

const TRANSPORTS = [
  ['the Atmosphere transport (WebSocket)', { transport: 'atmosphere' }],
  ['the Atmosphere transport (long-polling)', { transport: 'atmosphere', wire: 'long-polling' }],
  ["the SDK's DefaultChatTransport", { transport: 'default' }],
] as const;

describe.each(TRANSPORTS)('stock useChat (React) on %s', (_name, query) => {
  test('a streamed answer', async () => {
    const { page: p } = await open('react', query);
    await ask(p, 'hello');
    const chat = await until(p, 'the answer', (c) => c.status === 'ready' && answer(c) === HELLO);
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant']);
  });

  test('a tool call with approval: approved runs it, the answer goes on', async () => {
    const { page: p } = await open('react', query);
    const calls = server.weatherCalls.length;
    await ask(p, 'weather in Montreal?');
    await p.waitForSelector('#approve');
    expect(server.weatherCalls.length).toBe(calls);
    await p.click('#approve');
    const chat = await until(
      p,
      'the answer after the tool',
      (c) => c.status === 'ready' && answer(c) === 'It is 21°C in Montreal.',
    );
    expect(server.weatherCalls.slice(calls)).toEqual([{ city: 'Montreal' }]);
    expect(assistant(chat).at(-1)!.tools).toEqual([
      { type: 'tool-weather', state: 'output-available', output: { city: 'Montreal', celsius: 21 } },
    ]);
  });

  test('a denied tool call never runs', async () => {
    const { page: p } = await open('react', query);
    const calls = server.weatherCalls.length;
    await ask(p, 'weather please');
    await p.waitForSelector('#deny');
    await p.click('#deny');
    const chat = await until(
      p,
      'the answer after the denial',
      (c) => c.status === 'ready' && answer(c) === 'I could not check the weather.',
    );
    expect(server.weatherCalls.length).toBe(calls);
    expect(
      assistant(chat)
        .at(-1)!
        .tools.map((t) => t.state),
    ).toEqual(['output-denied']);
  });

  test('stop ends the run on the server; the text so far stands', async () => {
    server.gate.openAfter = 5;
    const { page: p, chatId } = await open(
      'react',
      query.transport === 'default' ? { ...query, api: '/api/chat-stop' } : query,
    );
    await ask(p, 'story');
    await until(p, 'five words', (c) => words(c) === 5);
    await p.click('#stop');
    await until(p, 'ready after the stop', (c) => c.status === 'ready');
    await eventually(
      async () => (await server.memory.history(`chat:${chatId}`)).length === 2,
      'the run ends stopped',
    );
    const history = await server.memory.history(`chat:${chatId}`);
    expect(history[1]!.content).toBe(STORY_WORDS.slice(0, 5).join(''));
    expect(answer(await state(p))).toBe(STORY_WORDS.slice(0, 5).join(''));
  });

  test('a reload in the middle of the answer resumes it: all of it, nothing twice', async () => {
    server.gate.openAfter = 10;
    const { page: p } = await open('react', query);
    await ask(p, 'story');
    await until(p, 'ten words', (c) => words(c) === 10);
    await p.reload();
    await p.waitForFunction(() => document.title === 'chat ready');
    server.gate.open();
    const chat = await until(p, 'the whole story', (c) => c.status === 'ready' && answer(c) === STORY);
    expect(chat.messages.map((m) => [m.role, m.text])).toEqual([
      ['user', 'story'],
      ['assistant', STORY],
    ]);
  });

  test('a cut network: the answer comes back whole', async () => {
    server.gate.openAfter = 10;
    const { page: p } = await open('react', query);
    await ask(p, 'story');
    await until(p, 'ten words', (c) => words(c) === 10);
    for (const socket of sockets) socket.destroy();
    server.gate.open();
    if (query.transport === 'default') {
      // The stock transport reports the cut; the app resumes (useChat's resumeStream) from the server.
      await until(p, 'the cut reported', (c) => c.status === 'error');
      await p.click('#resume');
    }
    const chat = await until(p, 'the whole story', (c) => c.status === 'ready' && answer(c) === STORY);
    expect(assistant(chat)).toHaveLength(1);
  });
});

// The Atmosphere transport only: the SDK's DefaultChatTransport has no session of the page to present again.
describe.each(TRANSPORTS.filter(([, query]) => query.transport === 'atmosphere'))(
  'a reloaded page on %s',
  (_name, query) => {
    test('owns the run it resumes (its session token kept in sessionStorage): stop() stops it on the server', async () => {
      server.gate.openAfter = 10;
      const { page: p, chatId } = await open('react', query);
      await ask(p, 'story');
      await until(p, 'ten words', (c) => words(c) === 10);
      await p.reload();
      await p.waitForFunction(() => document.title === 'chat ready');
      await until(p, 'the resumed answer', (c) => c.status === 'streaming' && words(c) === 10);
      await p.click('#stop');
      await until(p, 'ready after the stop', (c) => c.status === 'ready');
      await eventually(
        async () => (await server.memory.history(`chat:${chatId}`)).length === 2,
        'the run ends stopped',
      );
      const history = await server.memory.history(`chat:${chatId}`);
      expect(history[1]!.content).toBe(STORY_WORDS.slice(0, 10).join(''));
    });
  },
);

describe('stock @ai-sdk/vue Chat on the Atmosphere transport', () => {
  test('a streamed answer, then a tool call with approval', async () => {
    const { page: p } = await open('vue', { transport: 'atmosphere' });
    await ask(p, 'hello');
    await until(p, 'the answer', (c) => c.status === 'ready' && answer(c) === HELLO);
    await ask(p, 'weather in Montreal?');
    await p.waitForSelector('#approve');
    await p.click('#approve');
    const chat = await until(
      p,
      'the tool answer',
      (c) => c.status === 'ready' && answer(c) === 'It is 21°C in Montreal.',
    );
    expect(chat.messages.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  });
});
