import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_LAUNCH_OPTIONS } from '@atmosphere/runtime/testing';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { buildPages, type PageFiles } from '../src/pages.ts';
import { type Frameworks, startFrameworks } from '../src/server.ts';

/** The fixed answer of the demo model, for `/ai` and for the room's AI member: 14 words, streamed one by one. */
const ANSWER = 'Tokens stream one by one over every transport to React, Vue and Svelte pages alike.';
const AI_LINE = `assistant: ${ANSWER}`;

/** Screenshots are written into the sample's folder (for its README) only when asked: CI leaves the tree clean. */
const SCREENSHOTS = process.env['UPDATE_SCREENSHOTS'] === '1';
const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url));

/** Texts an element showed over time, recorded in the page by a MutationObserver (no polling, nothing missed). */
interface RecorderWindow {
  recorded: Record<string, string[]>;
}

describe('the React, Vue and Svelte pages in Chromium', () => {
  let browser: Browser;
  let pages: PageFiles;
  let app: Frameworks | undefined;
  const opened: Page[] = [];
  /** Uncaught errors of every page opened by the current test. */
  const pageErrors: string[] = [];

  beforeAll(async () => {
    [browser, pages] = await Promise.all([
      chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] }),
      buildPages(),
    ]);
  });
  afterEach(async () => {
    for (const page of opened.splice(0)) await page.close();
    pageErrors.length = 0;
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await browser?.close();
  });

  const poll = <T>(read: () => Promise<T>) => expect.poll(read, { timeout: 15_000, interval: 50 });
  const byTestId = (page: Page, id: string) => page.locator(`[data-testid="${id}"]`);
  const text = async (page: Page, id: string): Promise<string> =>
    (await byTestId(page, id).innerText()).trim();
  /** The room's conversation as a page shows it (`from: text`), streaming answers apart. */
  const conversation = (page: Page) =>
    page.locator('[data-testid="room-messages"] > li:not(.streaming)').allInnerTexts();
  const streaming = (page: Page) => page.locator('[data-testid="room-messages"] > li.streaming').count();
  const members = (page: Page) => page.locator('[data-testid="members"] > li').allInnerTexts();
  const liveMessages = (page: Page) => page.locator('[data-testid="live-messages"] > li').allInnerTexts();

  /** Opens a page (each in its own browser context, as another user would) and waits until it is in the room. */
  async function open(
    framework: string,
    member: string,
    transport: string,
    viewport = { width: 1280, height: 800 },
  ): Promise<Page> {
    const page = await browser.newPage({ viewport });
    opened.push(page);
    page.on('pageerror', (error) => pageErrors.push(`${member}: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') pageErrors.push(`${member} (console): ${message.text()}`);
    });
    await page.goto(`${app!.url}${framework}/?member=${member}&transport=${transport}`);
    await poll(() => text(page, 'live-state')).toBe('connected');
    await poll(() => text(page, 'presence')).toMatch(/^\d+ here$/);
    return page;
  }

  /**
   * Starts recording what `container` shows at each change: its text, or the texts of its `items` joined by
   * newlines.
   */
  async function record(page: Page, name: string, container: string, items: string | null): Promise<void> {
    await page.evaluate(
      ({ name, container, items }) => {
        const target = document.querySelector(container)!;
        const window_ = window as unknown as Partial<RecorderWindow>;
        const recorded = (window_.recorded ??= {});
        const values: string[] = (recorded[name] = []);
        const read = () =>
          (items === null ? [target] : [...target.querySelectorAll(items)])
            .map((item) => item.textContent?.trim() ?? '')
            .join('\n');
        new MutationObserver(() => {
          const value = read();
          if (value !== values[values.length - 1]) values.push(value);
        }).observe(target, { subtree: true, childList: true, characterData: true });
      },
      { name, container, items },
    );
  }
  const recorded = (page: Page, name: string): Promise<string[]> =>
    page.evaluate((name) => (window as unknown as RecorderWindow).recorded[name] ?? [], name);

  /** True when `values` grew token by token to `full`: each a prefix of the next, some of them partial. */
  function streamedTo(values: readonly string[], full: string, prefix = ''): void {
    const shown = values.filter((value) => value !== '');
    expect(shown.every((value) => full.startsWith(value))).toBe(true);
    expect(shown.some((value) => value.length > prefix.length && value.length < full.length)).toBe(true);
  }

  describe.each([
    ['react', 'websocket', 'streaming'],
    ['vue', 'sse', 'long-polling'],
    ['svelte', 'long-polling', 'websocket'],
  ] as const)('the %s page (alice over %s, bob over %s)', (framework, aliceTransport, bobTransport) => {
    test('shows live messages, an AI stream, room presence and the AI member answering in the room', async () => {
      app = await startFrameworks({
        port: 0,
        logger: silentLogger,
        pages,
        tickMs: 200,
        runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }),
      });
      const alice = await open(framework, 'alice', aliceTransport);
      const bob = await open(framework, 'bob', bobTransport);

      // Room presence: both pages see both people, and the AI member.
      for (const page of [alice, bob]) {
        await poll(() => members(page)).toEqual(['assistant', 'alice', 'bob']);
        expect(await text(page, 'presence')).toBe('3 here');
        expect(await page.locator('[data-testid="members"] > li[data-ai="true"]').allInnerTexts()).toEqual([
          'assistant',
        ]);
      }

      // Live messages: the server's ticks, and what each page posts, on every page.
      const tick = /^tick (\d+)$/;
      await poll(() => text(alice, 'tick')).toMatch(tick);
      const first = Number(tick.exec(await text(alice, 'tick'))![1]);
      await poll(async () => Number(tick.exec(await text(alice, 'tick'))?.[1])).toBeGreaterThan(first);
      await byTestId(alice, 'live-input').fill(`hello from ${framework}`);
      await byTestId(alice, 'live-input').press('Enter');
      await poll(() => liveMessages(bob)).toEqual([`alice: hello from ${framework}`]);
      await byTestId(bob, 'live-input').fill('hi alice');
      await byTestId(bob, 'live-input').press('Enter');
      for (const page of [alice, bob])
        await poll(() => liveMessages(page)).toEqual([`alice: hello from ${framework}`, 'bob: hi alice']);

      // The AI stream (one to one): alice's answer grows token by token, then completes; bob sees none of it.
      await record(alice, 'answer', '[data-testid="ai-answer"]', null);
      await byTestId(alice, 'ai-input').fill('What is Atmosphere?');
      await byTestId(alice, 'ai-input').press('Enter');
      await poll(() => text(alice, 'ai-status')).toBe('complete');
      expect(await text(alice, 'ai-answer')).toBe(ANSWER);
      expect(await text(alice, 'ai-model')).toBe('demo');
      streamedTo(await recorded(alice, 'answer'), ANSWER);
      expect(await text(bob, 'ai-answer')).toBe('');
      expect(await text(bob, 'ai-status')).toBe('idle');

      // The room's AI member: mentioned by bob, its answer streams into both pages, then becomes a message.
      await record(alice, 'room', '[data-testid="room-messages"]', ':scope > li.streaming');
      await byTestId(bob, 'room-input').fill('@assistant what is new?');
      await byTestId(bob, 'room-input').press('Enter');
      const expected = ['bob: @assistant what is new?', AI_LINE];
      for (const page of [alice, bob]) {
        await poll(() => conversation(page)).toEqual(expected);
        expect(await streaming(page)).toBe(0);
      }
      streamedTo(await recorded(alice, 'room'), AI_LINE, 'assistant:');

      // History: a late joiner gets the conversation so far.
      const carol = await open(framework, 'carol', aliceTransport);
      await poll(() => conversation(carol)).toEqual(expected);
      await poll(() => members(alice)).toEqual(['assistant', 'alice', 'bob', 'carol']);
      expect(await text(carol, 'model-banner')).toMatch(/^DEMO model: /);

      // What the late joiner says shows after the history, on its page as on the others.
      await byTestId(carol, 'room-input').fill('thanks, I am caught up');
      await byTestId(carol, 'room-input').press('Enter');
      await byTestId(alice, 'room-input').fill('welcome carol');
      await byTestId(alice, 'room-input').press('Enter');
      const followed = [...expected, 'carol: thanks, I am caught up', 'alice: welcome carol'];
      for (const page of [alice, bob, carol]) await poll(() => conversation(page)).toEqual(followed);

      // Leaving the page sends the close request: the others see the leave at once.
      await bob.goto('about:blank');
      await carol.goto('about:blank');
      await poll(() => members(alice)).toEqual(['assistant', 'alice']);
      expect(await text(alice, 'presence')).toBe('2 here');
      expect(await conversation(alice)).toEqual(followed);
      expect(pageErrors).toEqual([]);
    });

    test('fits at desktop and phone width: nothing scrolls sideways', async () => {
      app = await startFrameworks({
        port: 0,
        logger: silentLogger,
        pages,
        tickMs: 200,
        runtime: demoRuntime({ delayMs: 1 }),
      });
      for (const [label, width, height] of [
        ['desktop', 1280, 900],
        ['phone', 390, 844],
      ] as const) {
        const page = await open(framework, label === 'phone' ? 'maya' : 'leo', aliceTransport, {
          width,
          height,
        });
        await byTestId(page, 'room-input').fill(`@assistant hello from ${framework}, what is new?`);
        await byTestId(page, 'room-input').press('Enter');
        await poll(async () =>
          (await conversation(page)).some((line) => line.startsWith('assistant: ')),
        ).toBe(true);
        await byTestId(page, 'ai-input').fill('What is Atmosphere?');
        await byTestId(page, 'ai-input').press('Enter');
        await poll(() => text(page, 'ai-status')).toBe('complete');
        await poll(() => text(page, 'model-banner')).toMatch(/^DEMO model: /);
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
          width,
        );
        if (SCREENSHOTS)
          await page.screenshot({ path: join(SCREENSHOT_DIR, `${framework}-${label}.png`), fullPage: true });
      }
      expect(pageErrors).toEqual([]);
    });
  });
});
