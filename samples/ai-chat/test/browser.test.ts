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
