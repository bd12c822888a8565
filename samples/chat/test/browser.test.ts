import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_LAUNCH_OPTIONS } from '@atmosphere/runtime/testing';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildPage, type PageFiles } from '../src/page.ts';
import { type Chat, startChat } from '../src/server.ts';

const ANSWER = Array.from({ length: 30 }, (_, i) => `token${i + 1}`).join(' ');
/** Screenshots are written into the sample's folder (for its README) only when asked: CI leaves the tree clean. */
const SCREENSHOTS = process.env['UPDATE_SCREENSHOTS'] === '1';
const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url));

let browser: Browser;
let page: PageFiles;
let dir: string;
/** Console errors and uncaught exceptions of every page a test opened: none is expected. */
let problems: string[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atmosphere-chat-browser-'));
  page = await buildPage();
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
});
afterAll(async () => {
  await browser?.close();
  await rm(dir, { recursive: true, force: true });
});
/** Every tab a test opened: closed after it (before its server stops), whatever the outcome. */
const tabs: Page[] = [];
afterEach(async () => {
  // Closing a tab's context closes the tab; awaited here, while the browser still runs.
  for (const opened of tabs.splice(0)) await opened.context().close();
  const seen = problems;
  problems = [];
  expect(seen).toEqual([]);
});

/** A new tab (its own context: no shared storage) that records console errors and page errors. */
async function tab(width = 1280, height = 800): Promise<Page> {
  const context: BrowserContext = await browser.newContext({ viewport: { width, height } });
  const opened = await context.newPage();
  tabs.push(opened);
  opened.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console: ${message.text()}`);
  });
  opened.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  return opened;
}

/** The chat lines a page shows, as `from: text`. */
async function lines(on: Page): Promise<string[]> {
  const items = on.locator('#messages li:not(.system)');
  const out: string[] = [];
  for (let i = 0; i < (await items.count()); i++) {
    const item = items.nth(i);
    out.push(`${await item.getAttribute('data-from')}: ${(await item.locator('.text').textContent()) ?? ''}`);
  }
  return out;
}

async function say(on: Page, text: string): Promise<void> {
  await on.locator('[data-testid="input"]').fill(text);
  await on.locator('[data-testid="input"]').press('Enter');
}

describe('the main sample in Chromium: people and AI members in a room', () => {
  let chat: Chat;

  beforeAll(async () => {
    chat = await startChat({
      port: 0,
      logger: silentLogger,
      page,
      durable: join(dir, 'rooms.sqlite'),
      runtime: demoRuntime({ delayMs: 10, answer: () => ANSWER }),
    });
  });
  afterAll(async () => {
    await chat?.close();
  });

  async function open(name: string, transport: string, room: string, as = name): Promise<Page> {
    const opened = await tab();
    await opened.goto(`${chat.url}?name=${name}&room=${room}&transport=${transport}`);
    await opened.locator('[data-testid="status"].open').waitFor();
    await opened.locator(`[data-testid="members"] li[data-member="${as}"]`).waitFor();
    return opened;
  }

  test('two people talk and the AI stays out of it until mentioned; presence and typing; the demo model is labelled', async () => {
    const alice = await open('alice', 'websocket', 'random');
    const bob = await open('bob', 'sse', 'random');
    expect(await alice.locator('[data-testid="model-banner"]').textContent()).toMatch(/^DEMO model/);
    await alice.locator('[data-testid="members"] li[data-member="bob"]').waitFor();
    expect(await bob.locator('[data-testid="members"] li.ai').allTextContents()).toEqual([
      'Assistant',
      'Poet',
    ]);
    expect(await bob.locator('[data-testid="answers"]').inputValue()).toBe('mentions');

    await bob.locator('[data-testid="input"]').pressSequentially('hi');
    await expect.poll(() => alice.locator('[data-testid="typing"]').textContent()).toBe('bob is typing…');
    await say(bob, 'hi alice, did you see the game?');
    await alice.locator('#messages li[data-from="bob"]').waitFor();
    await say(alice, 'I did, what a finish');
    await bob.locator('#messages li[data-from="alice"]').waitFor();
    await say(bob, '@poet hello alice');
    // The poet answers bob's mention to the whole room, streaming into one bubble that then completes.
    await alice.locator('#messages li[data-from="poet"]:not(.streaming)').waitFor();
    await bob.locator('#messages li[data-from="poet"]:not(.streaming)').waitFor();
    const conversation = [
      'bob: hi alice, did you see the game?',
      'alice: I did, what a finish',
      'bob: @poet hello alice',
      `poet: ${ANSWER}`,
    ];
    // Nobody answered the people talking to each other (the room answers mentions only).
    expect(await lines(alice)).toEqual(conversation);
    expect(await lines(bob)).toEqual(conversation);
    await bob.close();
    await alice.locator('[data-testid="members"] li[data-member="bob"]').waitFor({ state: 'detached' });
    await alice.close();
  });

  test('a question to a room set to questions streams to everyone token by token; a late joiner gets it from history', async () => {
    const carol = await open('carol', 'long-polling', 'lobby');
    const dave = await open('dave', 'websocket', 'lobby');
    expect(await carol.locator('[data-testid="answers"]').inputValue()).toBe('questions');
    await say(carol, 'hello dave');
    await dave.locator('#messages li[data-from="carol"]').waitFor();
    await say(carol, 'what is new?');
    // Tokens arrive while the bubble is still streaming, on both pages.
    await dave.locator('#messages li[data-from="assistant"].streaming').waitFor();
    await carol.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
    await dave.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
    const conversation = ['carol: hello dave', 'carol: what is new?', `assistant: ${ANSWER}`];
    expect(await lines(dave)).toEqual(conversation);
    const erin = await open('erin', 'streaming', 'lobby');
    await erin.locator('#messages li[data-from="assistant"]').waitFor();
    expect(await lines(erin)).toEqual(conversation);
    await Promise.all([carol.close(), dave.close(), erin.close()]);
  });

  test('a name in use gets a numbered variant with a visible notice; the room setting changes for everyone', async () => {
    const first = await open('frank', 'websocket', 'random');
    const second = await open('Frank', 'sse', 'random', 'Frank-2');
    expect(await second.locator('[data-testid="me"]').textContent()).toBe('Frank-2');
    expect(await second.locator('[data-testid="notice"]').textContent()).toBe(
      '“Frank” is already in #random: you are “Frank-2”.',
    );
    expect(await second.locator('[data-testid="notice"]').isVisible()).toBe(true);
    expect(await first.locator('[data-testid="notice"]').isVisible()).toBe(false);
    await first.locator('[data-testid="members"] li[data-member="Frank-2"]').waitFor();

    await say(second, 'anyone up for lunch?');
    await first.locator('#messages li[data-from="Frank-2"]').waitFor();
    // The other tab turns questions on: both see the notice and the setting; the next question is answered.
    await first.locator('[data-testid="answers"]').selectOption('questions');
    await second.locator('#messages li.system[data-notice="answers"]').waitFor();
    expect(await second.locator('[data-testid="answers"]').inputValue()).toBe('questions');
    expect(chat.answersOf('random')).toBe('questions');
    await say(second, 'what should we eat?');
    await first.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
    // #random's history (the first test's conversation) comes first.
    expect((await lines(first)).slice(-3)).toEqual([
      'Frank-2: anyone up for lunch?',
      'Frank-2: what should we eat?',
      `assistant: ${ANSWER}`,
    ]);
    await first.locator('[data-testid="answers"]').selectOption('mentions');
    await expect.poll(() => second.locator('[data-testid="answers"]').inputValue()).toBe('mentions');
    await Promise.all([first.close(), second.close()]);
  });
});

describe('stopping an AI answer from the page', () => {
  let chat: Chat;

  beforeAll(async () => {
    chat = await startChat({
      port: 0,
      logger: silentLogger,
      page,
      durable: join(dir, 'stop.sqlite'),
      // Slow enough that the answer is still streaming when the Stop button is clicked.
      runtime: demoRuntime({ delayMs: 150, answer: () => ANSWER }),
    });
  });
  afterAll(async () => {
    await chat?.close();
  });

  test("a Stop button stops the owner's answer for everyone; a watcher's tab has none", async () => {
    const alice = await tab();
    await alice.goto(`${chat.url}?name=alice&room=random&transport=websocket`);
    await alice.locator('[data-testid="status"].open').waitFor();
    const watcher = await tab();
    await watcher.goto(`${chat.url}?name=vic&room=random&transport=sse&watch=1`);
    await watcher.locator('[data-testid="status"].open').waitFor();
    await alice.locator('[data-testid="members"] li[data-member="vic"]').waitFor();
    await say(alice, '@poet a long one please');
    const bubble = (on: Page) => on.locator('#messages li[data-from="poet"]');
    await bubble(watcher).locator('.text:text("token1")').waitFor();
    // The watcher (viewer role) is offered no Stop; the owner is.
    expect(await bubble(watcher).locator('[data-testid="stop"]').count()).toBe(0);
    await bubble(alice).locator('[data-testid="stop"]').click();
    await bubble(alice).and(alice.locator('.stopped')).waitFor();
    await bubble(watcher).and(watcher.locator('.stopped')).waitFor();
    const [mine, theirs] = [
      (await bubble(alice).locator('.text').textContent()) ?? '',
      (await bubble(watcher).locator('.text').textContent()) ?? '',
    ];
    expect(mine).toBe(theirs);
    expect(mine.startsWith('token1')).toBe(true);
    expect(ANSWER.startsWith(mine)).toBe(true);
    expect(mine).not.toBe(ANSWER);
    expect(await bubble(alice).locator('[data-testid="stop"]').count()).toBe(0);
  });
});

describe('the page at desktop and phone width, with the demo model in character', () => {
  let chat: Chat;

  beforeAll(async () => {
    chat = await startChat({
      port: 0,
      logger: silentLogger,
      page,
      durable: join(dir, 'screens.sqlite'),
      runtime: demoRuntime({ delayMs: 1 }),
    });
  });
  afterAll(async () => {
    await chat?.close();
  });

  for (const [label, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    test(`${label} (${width} px): everything fits, nothing scrolls sideways, the poet rhymes the prompt`, async () => {
      const room = label === 'desktop' ? 'lobby' : 'random';
      const other = await tab();
      await other.goto(`${chat.url}?name=maya&room=${room}&transport=websocket`);
      await other.locator('[data-testid="members"] li[data-member="maya"]').waitFor();
      const me = await tab(width, height);
      await me.goto(`${chat.url}?name=leo&room=${room}&transport=websocket`);
      await me.locator('[data-testid="members"] li[data-member="maya"]').waitFor();
      await say(other, 'morning leo, coffee later?');
      await me.locator('#messages li[data-from="maya"]').waitFor();
      await say(me, '@poet the ocean at midnight');
      const poem = me.locator('#messages li[data-from="poet"]:not(.streaming) .text');
      await poem.waitFor();
      expect(await poem.textContent()).toMatch(/ocean[\s\S]*midnight[\s\S]*a demo poet, keeping time\.$/);
      if (room === 'lobby') {
        // #lobby answers questions to the room: maya's question got the assistant's (labelled) demo answer.
        await me.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
      }

      const box = async (selector: string) => (await me.locator(selector).boundingBox())!;
      const layout = {
        scrollWidth: await me.evaluate<number>('document.documentElement.scrollWidth'),
        input: await box('[data-testid="input"]'),
        send: await box('.compose button'),
        messages: await box('#messages'),
      };
      const right = (b: { x: number; width: number }) => b.x + b.width;
      const bottom = (b: { y: number; height: number }) => b.y + b.height;
      expect(layout.scrollWidth).toBeLessThanOrEqual(width);
      expect(right(layout.send)).toBeLessThanOrEqual(width);
      expect(layout.input.width).toBeGreaterThan(width / 2 - 40);
      expect(layout.messages.width).toBeGreaterThan(width / 2);
      expect(bottom(layout.send)).toBeLessThanOrEqual(height);
      if (SCREENSHOTS) await me.screenshot({ path: join(SCREENSHOT_DIR, `${label}.png`) });
      await Promise.all([me.close(), other.close()]);
    });
  }
});
