import { CHROMIUM_LAUNCH_OPTIONS } from '@atmosphere/runtime/testing';
import { silentLogger } from '@atmosphere/runtime';
import { type Browser, chromium } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { DEMO_ANSWER, demoLanguageModel } from '../src/demo-model.ts';
import { type AiSdkSample, startAiSdkSample } from '../src/server.ts';

let app: AiSdkSample;
let browser: Browser;

beforeAll(async () => {
  [app, browser] = await Promise.all([
    startAiSdkSample({ port: 0, logger: silentLogger, model: demoLanguageModel({ delayMs: 2 }) }),
    chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] }),
  ]);
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await app?.close();
});

test('useChat in Chromium at desktop and phone width: an answer, an approved tool call, no console error', async () => {
  const problems: string[] = [];
  for (const [label, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    const page = await browser.newPage({ viewport: { width, height } });
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${label}: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`${label}: ${error.message}`));
    await page.goto(`${app.url}?${label}`);
    await page.locator('#status', { hasText: 'ready' }).waitFor();
    await page.fill('#prompt', 'Hello there');
    await page.press('#prompt', 'Enter');
    await page.locator('.message.assistant', { hasText: DEMO_ANSWER }).waitFor();
    await page.locator('#status', { hasText: 'ready' }).waitFor();
    await page.fill('#prompt', 'What is the weather in Montreal?');
    await page.press('#prompt', 'Enter');
    await page.locator('#approve').click();
    await page.locator('.tool', { hasText: 'output-available' }).waitFor();
    await page.locator('#status', { hasText: 'ready' }).waitFor();
    expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    // Written into the sample's folder (for its README) only when asked: a test run leaves the tree clean.
    if (process.env['UPDATE_SCREENSHOTS'] === '1')
      await page.screenshot({ path: new URL(`../screenshots/${label}.png`, import.meta.url).pathname });
    await page.close();
  }
  expect(problems).toEqual([]);
});
