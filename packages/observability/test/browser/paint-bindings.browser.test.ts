import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import type { Atmosphere } from '@atmosphere/runtime';
import {
  CHROMIUM_EXECUTABLE,
  CHROMIUM_LAUNCH_OPTIONS,
  hasChromium,
  startTestAtmosphere,
} from '@atmosphere/runtime/testing';
import { type Browser, chromium } from 'playwright-core';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { metrics, metricsHandler, tracing } from '../../src/index.ts';
import { inMemoryTracing } from '../tracing-support.ts';
import { expectEveryFramePainted } from './paint-checks.ts';
import { buildPaintPage, type PaintFramework, type PaintPage } from './build.ts';

/** The demo model's answer: 12 words, one text frame each, 20 ms apart. */
const ANSWER = 'Every token of this answer is timed from the model to the screen.';

let browser: Browser;
beforeAll(async () => {
  if (!hasChromium())
    throw new Error(`${CHROMIUM_EXECUTABLE} is missing: install it (apt-get install -y chromium).`);
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
});
afterAll(async () => {
  await browser?.close();
});

// The React page is paint.browser.test.ts; the same page on the other two bindings, each on a server of its own.
describe.each<PaintFramework>(['vue', 'svelte'])('token to paint on the %s binding', (framework) => {
  let page: PaintPage;
  let atmosphere: Atmosphere;
  const registry = new Registry();
  const otel = inMemoryTracing();

  beforeAll(async () => {
    page = await buildPaintPage(framework);
    atmosphere = await startTestAtmosphere({
      providers: [metrics({ registry }), tracing({ tracer: otel.provider.getTracer('test') })],
    });
    atmosphere.handle('/metrics', metricsHandler(registry));
    atmosphere.handle('/paint', {
      request: (_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        response.end(page.html);
      },
    });
    atmosphere.handle('/paint.js', {
      request: (_request, response) => {
        response.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' });
        response.end(page.script);
      },
    });
    // The browser asks for one; a 404 would be a console error, and every console error fails the test.
    atmosphere.handle('/favicon.ico', {
      request: (_request, response) => {
        response.writeHead(204);
        response.end();
      },
    });
    aiEndpoint(atmosphere, {
      path: '/ai/paint',
      runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }),
    });
  }, 120_000);

  afterAll(async () => {
    await atmosphere?.close();
    await otel.close();
  });

  const scrape = async (): Promise<string> => (await fetch(atmosphere.url('/metrics'))).text();

  test('every painted text frame lands in the token-to-paint histogram, joined to the run span', async () => {
    const tab = await browser.newPage();
    const errors: string[] = [];
    tab.on('pageerror', (error) => errors.push(error.message));
    tab.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
    });
    try {
      await tab.goto(atmosphere.url('/paint'));
      await tab.waitForFunction(() => document.title === 'ready', undefined, { timeout: 15_000 });
      await tab.click('[data-testid="send"]');
      await tab.waitForFunction(
        () => document.querySelector('[data-testid="status"]')?.textContent === 'complete',
        undefined,
        { timeout: 15_000 },
      );
      expect(await tab.locator('[data-testid="answer"]').innerText()).toBe(ANSWER);
      const words = ANSWER.split(' ').length;

      // Every text frame was timed (sample rate 1) and painted by this binding's re-render: counted once each.
      await expectEveryFramePainted(scrape, otel.exporter, words);
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
    }
  });
});
