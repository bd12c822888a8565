import { demoRuntime } from '@atmosphere/ai';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { TIMING_PREFIX } from '@atmosphere/protocol';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere } from '@atmosphere/runtime';
import { connectTestClient, type TestClient } from '@atmosphere/runtime/testing';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { expectEveryFramePainted } from './paint-checks.ts';
import { buildPaintPage } from './build.ts';
import { launchChromium, type PaintServer, sendFromPaintPage, startPaintServer } from './paint-server.ts';
import { sample } from '../prometheus-text.ts';

/** The demo model's answer: 13 words, one text frame each, 20 ms apart. */
const ANSWER = 'Every token of this answer is timed from the model to the screen.';
const LABELS = 'gen_ai_provider_name="demo",gen_ai_request_model="default"';

type Frame = Record<string, unknown>;

/** A raw room connection (JSON frames), joined to the lobby as `memberId`. */
async function member(atmosphere: Atmosphere, memberId: string) {
  const client: TestClient = await connectTestClient(atmosphere.url('/rooms'), 'websocket');
  const send = (frame: object): Promise<number> => client.send(JSON.stringify(frame));
  const waitFor = async (predicate: (frame: Frame) => boolean): Promise<Frame> =>
    JSON.parse(
      await client.messages.waitFor((text) => predicate(JSON.parse(text) as Frame), 15_000),
    ) as Frame;
  await send({ type: 'join', room: 'lobby', memberId });
  await waitFor((frame) => frame['type'] === 'join_ack');
  return {
    send,
    waitFor,
    frames: (): Frame[] => client.messages.items.map((text) => JSON.parse(text) as Frame),
    /** Asks the AI member; resolves with its reply's session id and the seqs of the answer's text frames. */
    async ask(): Promise<{ sessionId: string; seqs: number[] }> {
      await send({ type: 'broadcast', room: 'lobby', data: '@assistant go' });
      const reply = await waitFor((frame) => frame['type'] === 'message' && frame['from'] === 'assistant');
      const { text, sessionId } = reply['data'] as { text: string; sessionId: string };
      expect(text).toBe(ANSWER);
      const seqs = client.messages.items
        .map((item) => JSON.parse(item) as Frame)
        .filter((frame) => frame['type'] === 'streaming-text' && frame['sessionId'] === sessionId)
        .map((frame) => frame['seq'] as number);
      return { sessionId, seqs };
    },
    timing: (report: unknown, memberId = 'assistant'): Promise<number> =>
      send({ type: 'timing', room: 'lobby', memberId, report }),
    close: () => client.close(),
  };
}

describe('token to paint in a room: a React page shows an AI member streaming with paint timing on', () => {
  let browser: Browser;
  let server: PaintServer;
  let atmosphere: Atmosphere;

  beforeAll(async () => {
    let page;
    [browser, page] = await Promise.all([launchChromium(), buildPaintPage('react-room')]);
    server = await startPaintServer(page);
    atmosphere = server.atmosphere;
    const rooms = createRooms(atmosphere, { path: '/rooms', history: 50 });
    rooms
      .room('lobby')
      .joinVirtual(
        llmRoomMember({ id: 'assistant', runtime: demoRuntime({ delayMs: 20, answer: () => ANSWER }) }),
      );
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const scrape = (): Promise<string> => server.scrape();

  test("every painted text frame of the room answer lands in the token-to-paint histogram, joined to the member's run", async () => {
    const { tab, errors } = await sendFromPaintPage(browser, server);
    await tab.waitForFunction(
      (answer) => document.querySelector('[data-testid="answer"]')?.textContent === answer,
      ANSWER,
      { timeout: 15_000 },
    );
    const words = ANSWER.split(' ').length;

    // Every text frame was timed (sample rate 1): the histograms and the spans count each one once.
    await expectEveryFramePainted(scrape, server.otel.exporter, words);
    expect(errors).toEqual([]);
    await tab.close();
  });

  test('hostile or stale room reports are refused whole and counted, answered to no one; the room goes on', async () => {
    const counts = async (): Promise<[number, number]> => {
      const text = await scrape();
      return [
        sample(text, 'atmosphere_ai_paint_reports_total', 'outcome="refused"') ?? 0,
        sample(text, 'atmosphere_ai_token_to_paint_seconds_count', LABELS) ?? 0,
      ];
    };
    const mallory = await member(atmosphere, 'mallory');
    const bob = await member(atmosphere, 'bob');
    const { sessionId, seqs } = await mallory.ask();
    expect(seqs.length).toBe(ANSWER.split(' ').length);
    const [refused, painted] = await counts();
    const hostile: unknown[] = [
      42,
      null,
      { runId: sessionId },
      `${TIMING_PREFIX}${sessionId} not json`,
      `${TIMING_PREFIX}${sessionId} [[${seqs[0]},5,9]]`, // painted before received
      `${TIMING_PREFIX}${sessionId} [[${seqs[0]},-1,0]]`,
      `${TIMING_PREFIX}${sessionId} [[${seqs[0]},5.5,1]]`,
      `${TIMING_PREFIX}${sessionId} ${JSON.stringify(Array.from({ length: 40 }, (_, i) => [i + 1, 5, 1]))}`,
      `${TIMING_PREFIX}no-such-answer [[1,5,1]]`,
      `${TIMING_PREFIX}${sessionId} [[100000,5,1]]`, // a frame the answer never sent
      `${TIMING_PREFIX}${'x'.repeat(2000)}`,
      `/__stop/${sessionId}`,
    ];
    for (const report of hostile) await mallory.timing(report);
    await expect.poll(counts, { timeout: 15_000, interval: 50 }).toEqual([refused + hostile.length, painted]);

    // A well-formed report from a member that joined after the answer (never in its audience) is refused.
    const good = `${TIMING_PREFIX}${sessionId} [[${seqs[0]},5,1]]`;
    const late = await member(atmosphere, 'late');
    await late.timing(good);
    await expect
      .poll(counts, { timeout: 15_000, interval: 50 })
      .toEqual([refused + hostile.length + 1, painted]);
    expect(late.frames().filter((frame) => frame['type'] === 'error')).toEqual([]);
    await late.close();

    // The same report from the asker counts: the refusals were the reports', not the path's.
    await mallory.timing(good);
    await expect
      .poll(counts, { timeout: 15_000, interval: 50 })
      .toEqual([refused + hostile.length + 1, painted + 1]);

    // No error frame for a telemetry report, to the reporter or anyone else; the member still answers.
    expect(mallory.frames().filter((frame) => frame['type'] === 'error')).toEqual([]);
    expect(bob.frames().filter((frame) => frame['type'] === 'error')).toEqual([]);
    await mallory.ask();
    await Promise.all([mallory.close(), bob.close()]);
  });
});
