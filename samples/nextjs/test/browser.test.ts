import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { CHROMIUM_LAUNCH_OPTIONS, hasChromium } from '@atmosphere/runtime/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { ensureBuilt } from '../src/build.ts';
import { type Sample, startSample } from '../src/server.ts';

/** Screenshots are written into the sample's folder (for its README) only when asked: CI leaves the tree clean. */
const SCREENSHOTS = process.env['UPDATE_SCREENSHOTS'] === '1';
const SCREENSHOT_DIR = fileURLToPath(new URL('../screenshots/', import.meta.url));

describe.skipIf(!hasChromium())('the page in Chromium (skipped when /usr/bin/chromium is absent)', () => {
  let browser: Browser;
  let sample: Sample;
  /** Console errors and uncaught exceptions of every page a test opened: none is expected. */
  let problems: string[] = [];

  beforeAll(async () => {
    await ensureBuilt();
    sample = await startSample({
      port: 0,
      logger: silentLogger,
      runtime: demoRuntime({ delayMs: 5 }),
    });
    browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
  });
  afterAll(async () => {
    await browser?.close();
    await sample?.close();
  });
  afterEach(() => {
    const seen = problems;
    problems = [];
    expect(seen).toEqual([]);
  });

  /** Opens the sample in a context of its own; the test closes it with {@link close} (awaited, not left floating). */
  async function open(width: number, height: number): Promise<Page> {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
    await page.goto(sample.url);
    return page;
  }

  async function close(page: Page): Promise<void> {
    await page.context().close();
  }

  async function ask(page: Page, prompt: string): Promise<string | null> {
    await page.locator('[data-testid="state"]', { hasText: 'connected' }).waitFor();
    await page.fill('input[aria-label="Prompt"]', prompt);
    await page.click('button[type="submit"]');
    await page.locator('[data-testid="answer"][data-done="true"]').waitFor();
    return page.locator('[data-testid="answer"]').textContent();
  }

  test('the answer streams over WebSocket (custom server), then over SSE (route handler)', async () => {
    const page = await open(1280, 800);
    try {
      // The demo model's canned answer, labelled as such (the route handler's runs at the demo's own pace).
      expect(await ask(page, 'Hello over WebSocket')).toContain('demo model');
      await page.click('[data-way="route"]');
      expect(await ask(page, 'Hello over SSE')).toContain('demo model');
      // The route handler served it: its Atmosphere has the connection, the custom server's has none left.
      expect([...sample.atmosphere.resources()].filter((r) => r.state === 'connected')).toHaveLength(0);
    } finally {
      await close(page);
    }
  });

  for (const [label, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    test(`${label} width (${width}×${height}): nothing overflows; the answer is on screen`, async () => {
      const page = await open(width, height);
      try {
        expect(await ask(page, 'What is Atmosphere?')).toContain('demo model');
        expect(await page.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(
          width,
        );
        const send = (await page.locator('button[type="submit"]').boundingBox())!;
        expect(send.x + send.width).toBeLessThanOrEqual(width);
        if (SCREENSHOTS) await page.screenshot({ path: join(SCREENSHOT_DIR, `${label}.png`) });
      } finally {
        await close(page);
      }
    });
  }
});
