import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectEveryFramePainted } from './paint-checks.ts';
import { buildPaintPage, type PaintFramework } from './build.ts';
import { launchChromium, type PaintServer, sendFromPaintPage, startPaintServer } from './paint-server.ts';

/** The demo model's answer: 12 words, one text frame each, 20 ms apart. */
const ANSWER = 'Every token of this answer is timed from the model to the screen.';

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

// The React page is paint.browser.test.ts; the same page on the other two bindings, each on a server of its own.
describe.each<PaintFramework>(['vue', 'svelte'])('token to paint on the %s binding', (framework) => {
  let server: PaintServer;
  let atmosphere: Atmosphere;

  beforeAll(async () => {
    server = await startPaintServer(await buildPaintPage(framework));
    atmosphere = server.atmosphere;
    aiEndpoint(atmosphere, {
      path: '/ai/paint',
      runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }),
    });
  }, 120_000);

  afterAll(async () => {
    await server?.close();
  });

  const scrape = (): Promise<string> => server.scrape();

  test('every painted text frame lands in the token-to-paint histogram, joined to the run span', async () => {
    const { tab, errors } = await sendFromPaintPage(browser, server);
    try {
      await tab.waitForFunction(
        () => document.querySelector('[data-testid="status"]')?.textContent === 'complete',
        undefined,
        { timeout: 15_000 },
      );
      expect(await tab.locator('[data-testid="answer"]').innerText()).toBe(ANSWER);
      const words = ANSWER.split(' ').length;

      // Every text frame was timed (sample rate 1) and painted by this binding's re-render: counted once each.
      await expectEveryFramePainted(scrape, server.otel.exporter, words);
      expect(errors).toEqual([]);
    } finally {
      await tab.close();
    }
  });
});

// The React room page is paint-room.browser.test.ts; the same room page on the other two bindings.
describe.each<PaintFramework>(['vue-room', 'svelte-room'])(
  'token to paint in a room on the %s binding',
  (framework) => {
    let server: PaintServer;

    beforeAll(async () => {
      server = await startPaintServer(await buildPaintPage(framework));
      createRooms(server.atmosphere, { path: '/rooms', history: 50 })
        .room('lobby')
        .joinVirtual(
          llmRoomMember({ id: 'assistant', runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }) }),
        );
    }, 120_000);

    afterAll(async () => {
      await server?.close();
    });

    test("every painted text frame of the room answer lands in the token-to-paint histogram, joined to the member's run", async () => {
      const { tab, errors } = await sendFromPaintPage(browser, server);
      try {
        await tab.waitForFunction(
          (answer) => document.querySelector('[data-testid="answer"]')?.textContent === answer,
          ANSWER,
          { timeout: 15_000 },
        );
        // Every text frame was timed (sample rate 1) and painted by this binding's re-render: counted once each.
        await expectEveryFramePainted(() => server.scrape(), server.otel.exporter, ANSWER.split(' ').length);
        expect(errors).toEqual([]);
      } finally {
        await tab.close();
      }
    });
  },
);
