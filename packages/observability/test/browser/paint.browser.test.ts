import { aiEndpoint, demoRuntime } from '@atmosphere/ai';
import { connectAiClient } from '@atmosphere/ai/testing';
import { RUN_ID_METADATA_KEY, TIMING_PREFIX } from '@atmosphere/protocol';
import type { Atmosphere } from '@atmosphere/runtime';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectEveryFramePainted } from './paint-checks.ts';
import { buildPaintPage } from './build.ts';
import { launchChromium, type PaintServer, sendFromPaintPage, startPaintServer } from './paint-server.ts';
import { sample } from '../prometheus-text.ts';

/** The demo model's answer: 12 words, one text frame each, 20 ms apart. */
const ANSWER = 'Every token of this answer is timed from the model to the screen.';
const LABELS = 'gen_ai_provider_name="demo",gen_ai_request_model="default"';

describe('token to paint: a React page streams an answer with paint timing on', () => {
  let browser: Browser;
  let server: PaintServer;
  let atmosphere: Atmosphere;

  beforeAll(async () => {
    let page;
    [browser, page] = await Promise.all([launchChromium(), buildPaintPage()]);
    server = await startPaintServer(page);
    atmosphere = server.atmosphere;
    aiEndpoint(atmosphere, {
      path: '/ai/paint',
      runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }),
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const scrape = (): Promise<string> => server.scrape();

  test('every painted text frame lands in the token-to-paint histogram, joined to the run span', async () => {
    const { tab, errors } = await sendFromPaintPage(browser, server);
    await tab.waitForFunction(
      () => document.querySelector('[data-testid="status"]')?.textContent === 'complete',
      undefined,
      { timeout: 15_000 },
    );
    expect(await tab.locator('[data-testid="answer"]').innerText()).toBe(ANSWER);
    const words = ANSWER.split(' ').length;

    // Every text frame was timed (sample rate 1): the histograms and the spans count each one once.
    await expectEveryFramePainted(scrape, server.otel.exporter, words);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('hostile or stale reports are refused whole and counted; the connection and the run go on', async () => {
    const before = sample(await scrape(), 'atmosphere_ai_paint_reports_total', 'outcome="refused"') ?? 0;
    const client = await connectAiClient(atmosphere.url('/ai/paint'));
    await client.prompt('Go');
    const answer = await client.answer();
    expect(answer.text).toBe(ANSWER);
    const runId = client
      .frames()
      .find((frame) => frame.type === 'metadata' && frame.key === RUN_ID_METADATA_KEY);
    expect(runId?.type === 'metadata' && typeof runId.value).toBe('string');
    const id = (runId as { value: string }).value;
    const hostile = [
      `${TIMING_PREFIX}${id} not json`,
      `${TIMING_PREFIX}${id} [[1,5,9]]`, // painted before received
      `${TIMING_PREFIX}${id} [[1,-1,0]]`,
      `${TIMING_PREFIX}${id} ${JSON.stringify(Array.from({ length: 40 }, (_, i) => [i + 1, 5, 1]))}`,
      `${TIMING_PREFIX}no-such-run [[1,5,1]]`,
      `${TIMING_PREFIX}${id} [[100000,5,1]]`, // a frame the run never sent
      `${TIMING_PREFIX}${'x'.repeat(2000)}`,
    ];
    for (const report of hostile) await client.client.send(report);
    await expect
      .poll(async () => sample(await scrape(), 'atmosphere_ai_paint_reports_total', 'outcome="refused"'), {
        timeout: 15_000,
        interval: 50,
      })
      .toBe(before + hostile.length);
    // No error frame was sent for a telemetry report, and the endpoint still answers.
    expect(client.frames().filter((frame) => frame.type === 'error')).toEqual([]);
    await client.prompt('Again');
    expect((await client.answer()).text).toBe(ANSWER);
    await client.close();
  });

  test("a well-formed report from a client outside the run's audience is refused; the same from the asker counts", async () => {
    const asker = await connectAiClient(atmosphere.url('/ai/paint'));
    const bystander = await connectAiClient(atmosphere.url('/ai/paint'));
    await asker.prompt('Go');
    expect((await asker.answer()).text).toBe(ANSWER);
    const runFrame = asker
      .frames()
      .find((frame) => frame.type === 'metadata' && frame.key === RUN_ID_METADATA_KEY);
    const id = (runFrame as { value: string }).value;
    const firstText = asker.frames().find((frame) => frame.type === 'streaming-text');
    expect(firstText).toBeDefined();
    const report = `${TIMING_PREFIX}${id} [[${firstText!.seq},5,1]]`;
    const counts = async (): Promise<[number, number]> => {
      const text = await scrape();
      return [
        sample(text, 'atmosphere_ai_paint_reports_total', 'outcome="refused"') ?? 0,
        sample(text, 'atmosphere_ai_token_to_paint_seconds_count', LABELS) ?? 0,
      ];
    };
    const [refused, painted] = await counts();

    await bystander.client.send(report);
    await expect.poll(counts, { timeout: 15_000, interval: 50 }).toEqual([refused + 1, painted]);

    await asker.client.send(report);
    await expect.poll(counts, { timeout: 15_000, interval: 50 }).toEqual([refused + 1, painted + 1]);
    await Promise.all([asker.close(), bystander.close()]);
  });
});
