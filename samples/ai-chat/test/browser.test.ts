import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHROMIUM_LAUNCH_OPTIONS, dropConnection } from '@atmosphere/runtime/testing';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type AiChat, startAiChat } from '../src/server.ts';

const ANSWER = Array.from({ length: 40 }, (_, i) => `word${i + 1}`).join(' ') + '.';

describe('the chat page in Chromium (skipped when /usr/bin/chromium is absent)', () => {
  let browser: Browser;
  let chat: AiChat;
  let page: Page;

  beforeAll(async () => {
    chat = await startAiChat({
      port: 0,
      logger: silentLogger,
      runtime: demoRuntime({ delayMs: 15, answer: () => ANSWER }),
    });
    browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
    page = await browser.newPage();
    await page.goto(chat.url);
    await page.locator('#connection[data-status="open"]').waitFor();
  });

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  const assistant = (n: number) => page.locator('.message.assistant').nth(n);

  test('a prompt streams into a bubble that completes; the runtime is labelled', async () => {
    await expect.poll(() => page.locator('#runtime').getAttribute('data-runtime')).toBe('demo');
    await page.fill('#input', 'Hello there');
    await page.press('#input', 'Enter');
    await assistant(0).and(page.locator('[data-state="complete"]')).waitFor();
    expect(await assistant(0).locator('.text').textContent()).toBe(ANSWER);
    expect(await page.locator('.message.user').first().textContent()).toBe('Hello there');
  });

  test('a tool card shows the weather tool running and its result', async () => {
    await page.click('[data-prompt^="What\'s the weather"]');
    const bubble = assistant(1);
    await bubble.and(page.locator('[data-state="complete"]')).waitFor();
    const card = bubble.locator('.tool-card[data-tool="weather"]');
    expect(await card.getAttribute('data-tool-state')).toBe('done');
    expect(await card.locator('.tool-detail').textContent()).toContain('"city": "Montreal"');
  });

  test('approve and deny buttons answer the approval', async () => {
    await page.click('[data-prompt^="Use send_email"]');
    const approveCard = assistant(2).locator('.tool-card[data-tool="send_email"]');
    await approveCard.locator('button[data-action="approve"]').click();
    await assistant(2).and(page.locator('[data-state="complete"]')).waitFor();
    expect(await approveCard.getAttribute('data-tool-state')).toBe('done');
    expect(await approveCard.locator('.tool-detail').textContent()).toContain('"sent": true');

    await page.fill('#input', 'send_email to eve@example.com please');
    await page.press('#input', 'Enter');
    const denyCard = assistant(3).locator('.tool-card[data-tool="send_email"]');
    await denyCard.locator('button[data-action="deny"]').click();
    await assistant(3).and(page.locator('[data-state="complete"]')).waitFor();
    expect(await denyCard.getAttribute('data-tool-state')).toBe('error');
    expect(await denyCard.locator('.tool-detail').textContent()).toBe('The user denied this tool call.');
  });

  test('a connection cut mid-answer reconnects and the bubble ends with the exact text, nothing twice', async () => {
    await page.fill('#input', 'Another one');
    await page.press('#input', 'Enter');
    const bubble = assistant(4);
    await expect
      .poll(async () => ((await bubble.locator('.text').textContent()) ?? '').length, { timeout: 10_000 })
      .toBeGreaterThan(20);
    const [resource] = [...chat.atmosphere.resources()];
    expect(dropConnection(resource, 1011, 'Simulated network trouble')).toBe(true);
    await page
      .locator('#connection[data-status="reconnecting"]')
      .or(page.locator('#connection[data-status="open"]'))
      .first()
      .waitFor();
    await bubble.and(page.locator('[data-state="complete"]')).waitFor({ timeout: 15_000 });
    expect(await bubble.locator('.text').textContent()).toBe(ANSWER);
    expect(await page.locator('#connection').getAttribute('data-status')).toBe('open');
  });
});

describe('turn control in Chromium: the stop button, and a viewer tab that cannot stop the owner', () => {
  const LONG = Array.from({ length: 300 }, (_, i) => `w${i + 1}`).join(' ') + '.';
  let browser: Browser;
  let chat: AiChat;

  beforeAll(async () => {
    chat = await startAiChat({
      port: 0,
      logger: silentLogger,
      runtime: demoRuntime({ delayMs: 20, answer: () => LONG }),
    });
    browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
  });

  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  async function open(url: string): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(url);
    await page.locator('#connection[data-status="open"]').waitFor();
    return page;
  }

  const textOf = async (page: Page) =>
    (await page.locator('.message.assistant .text').first().textContent()) ?? '';

  test('Stop ends the answer on the server: the bubble ends "stopped" with the text so far', async () => {
    const page = await open(chat.url);
    await page.fill('#input', 'Tell me everything');
    await page.press('#input', 'Enter');
    await expect.poll(async () => (await textOf(page)).length, { timeout: 10_000 }).toBeGreaterThan(20);
    expect(await page.locator('#stop').isVisible()).toBe(true);
    await page.click('#stop');
    const bubble = page.locator('.message.assistant[data-state="stopped"]');
    await bubble.waitFor();
    // The server stopped generating (not only the display): no run is left, and the text is a prefix.
    await expect.poll(() => chat.endpoint.active).toBe(0);
    const text = await textOf(page);
    expect(LONG.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(LONG.length);
    expect(await bubble.locator('.status').textContent()).toMatch(/^Stopped/);
    expect(await page.locator('#turn').isHidden()).toBe(true);
    await page.close();
  });

  test("a viewer tab (the watch link) follows the owner's answer, has no stop button, and its stop is refused", async () => {
    const owner = await open(chat.url);
    await owner.fill('#input', 'Tell me everything again');
    await owner.press('#input', 'Enter');
    await expect.poll(async () => (await textOf(owner)).length, { timeout: 10_000 }).toBeGreaterThan(20);
    const watch = await owner.locator('#watch').getAttribute('href');
    expect(watch).toMatch(/^\/\?run=/);
    const viewer = await open(new URL(watch!, chat.url).href);
    await viewer.locator('body[data-role="viewer"]').waitFor();
    await expect.poll(async () => (await textOf(viewer)).length).toBeGreaterThan(20);
    expect(await viewer.locator('#stop').isHidden()).toBe(true);
    expect(await owner.locator('body[data-role="owner"]').count()).toBe(1);
    // Even a forced click (the button is hidden, its handler still sends the stop): the server refuses it.
    await viewer.locator('#stop').dispatchEvent('click');
    await viewer.locator('#notice[data-code="FORBIDDEN"]').waitFor();
    // The owner's answer goes on to its end, in both tabs.
    await owner.locator('.message.assistant[data-state="complete"]').waitFor({ timeout: 20_000 });
    await viewer.locator('.message.assistant[data-state="complete"]').waitFor({ timeout: 20_000 });
    expect(await textOf(owner)).toBe(LONG);
    expect(await textOf(viewer)).toBe(LONG);
    await viewer.close();
    await owner.close();
  });
});

/** Screenshots are written into the sample's folder (for its README) only when asked: CI leaves the tree clean. */
const SCREENSHOTS = process.env['UPDATE_SCREENSHOTS'] === '1';
const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url));

describe('desktop and phone width in Chromium (skipped when /usr/bin/chromium is absent)', () => {
  let browser: Browser;
  let chat: AiChat;

  beforeAll(async () => {
    chat = await startAiChat({ port: 0, logger: silentLogger, runtime: demoRuntime({ delayMs: 5 }) });
    browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
  });
  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  for (const [label, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    test(`${label} (${width}×${height}): a tool answer fits, and the page logs no error (its favicon is served)`, async () => {
      const context = await browser.newContext({ viewport: { width, height } });
      const problems: string[] = [];
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
      try {
        await page.goto(chat.url);
        await page.locator('#connection[data-status="open"]').waitFor();
        await page.click('[data-prompt^="What\'s the weather"]');
        await page.locator('.message.assistant[data-state="complete"]').waitFor();
        expect(await page.locator('.tool-card[data-tool="weather"]').getAttribute('data-tool-state')).toBe(
          'done',
        );
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
          width,
        );
        const input = (await page.locator('#input').boundingBox())!;
        expect(input.x + input.width).toBeLessThanOrEqual(width);
        expect((await fetch(new URL('/favicon.svg', chat.url))).headers.get('content-type')).toBe(
          'image/svg+xml',
        );
        if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOT_DIR, `${label}.png`) });
        expect(problems).toEqual([]);
      } finally {
        await context.close();
      }
    });
  }
});
