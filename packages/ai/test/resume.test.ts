import { connectTestClient, eventually, type TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import type { AiFrame } from '@atmosphere/protocol';
import { answerOf, connectAiClient, isTerminalFrame, wrapAiClient } from '../src/testing/index.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');
const isText = (f: AiFrame) => 'type' in f && f.type === 'streaming-text';

/** Every frame of one session across connections: seq 1..n exactly once, ending with the terminal frame. */
function expectWholeSession(frames: readonly AiFrame[]): void {
  const seqs = frames.map((f) => f.seq);
  expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  expect(frames.filter(isTerminalFrame)).toHaveLength(1);
  expect(isTerminalFrame(frames.at(-1)!)).toBe(true);
}

describe('resume after a cut connection', () => {
  describe.each(['websocket', 'sse', 'streaming'] as TestTransport[])('%s', (transport) => {
    test.each([
      ['the rest was produced while the client was away', true],
      ['the cut lost frames in flight', false],
    ])(
      'a client cut mid-answer reconnects and ends with the exact full text (%s)',
      async (_title, waitForAway) => {
        h = await harness({ steps: [sseStep('openai-text.sse', { pauseAfter: 6 })] });
        const first = await connectAiClient(h.url(), transport);
        await first.prompt('Tell me something');
        // Six SSE events are out: the role chunk and five tokens.
        await eventually(() => first.frames().filter(isText).length === 5, 'five tokens');
        first.client.cut();
        if (waitForAway)
          await eventually(
            () => h!.atmosphere.resource(first.client.trackingId)?.state === 'away',
            'the server to see the cut',
          );
        h.replay!.release();
        const second = wrapAiClient(
          await connectTestClient(h.url(), transport, {
            trackingId: first.client.trackingId,
            received: first.client.received,
          }),
        );
        const end = await second.answer();
        const frames = [...first.frames(), ...second.frames()].filter((f) => f.sessionId === end.sessionId);
        expectWholeSession(frames);
        expect(answerOf(frames, end.sessionId).text).toBe(FULL);
        expect(end.end?.type).toBe('complete');
        // Nothing is pending for the client any more, and nothing was resent twice.
        expect(h.atmosphere.resource(first.client.trackingId)?.pending).toBe(0);
        await second.close();
      },
    );
  });

  test('a client gone for good (no reconnect within the grace period) aborts the upstream request', async () => {
    const disconnected: string[] = [];
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
      atmosphere: { reconnectGraceMs: 200 },
      interceptors: [{ onDisconnect: (request) => void disconnected.push(request.message) }],
    });
    const client = await connectAiClient(h.url());
    await client.prompt('Long answer please');
    await eventually(() => client.frames().some(isText), 'the first token');
    client.client.cut();
    // The upstream request is aborted once the grace period ends (the replay server sees the request go away).
    expect(await h.replay!.aborts.next(1_000)).toBe(0);
    expect(disconnected).toEqual(['Long answer please']);
    const runId = answerOf(client.frames(), client.frames()[0]!.sessionId).runId!;
    expect(h.endpoint.runs.get(runId)?.finished).toBe(true);
    expect(h.endpoint.active).toBe(0);
  });

  test('a deliberate close aborts the upstream request at once', async () => {
    h = await harness({ steps: [sseStep('openai-text.sse', { pauseAfter: 4 })] });
    const client = await connectAiClient(h.url(), 'sse');
    await client.prompt('Long answer please');
    await eventually(() => client.frames().some(isText), 'the first token');
    await client.close();
    expect(await h.replay!.aborts.next(1_000)).toBe(0);
  });

  test('a reconnect within the grace period lets the answer continue (upstream not aborted)', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
      atmosphere: { reconnectGraceMs: 2_000 },
    });
    const first = await connectAiClient(h.url());
    await first.prompt('Keep going');
    await eventually(() => first.frames().some(isText), 'the first token');
    first.client.cut();
    await eventually(() => h!.atmosphere.resource(first.client.trackingId)?.state === 'away', 'away');
    const second = wrapAiClient(
      await connectTestClient(h.url(), 'websocket', {
        trackingId: first.client.trackingId,
        received: first.client.received,
      }),
    );
    h.replay!.release();
    const end = await second.answer();
    expect(answerOf([...first.frames(), ...second.frames()], end.sessionId).text).toBe(FULL);
    expect(h.replay!.aborts.items).toEqual([]);
    await second.close();
  });
});

describe('re-attaching with the run id', () => {
  test('a new connection with X-Atmosphere-Run-Id and the last seq catches up, then follows live', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 6 })],
      atmosphere: { reconnectGraceMs: 5_000 },
    });
    const first = await connectAiClient(h.url());
    await first.prompt('Tell me something');
    await eventually(() => first.frames().filter(isText).length === 5, 'five tokens');
    const seen = first.frames();
    const runId = answerOf(seen, seen[0]!.sessionId).runId!;
    // A page reload: a new tracking id, the run id kept, three frames of it lost with the old page.
    const lastSeq = seen.at(-4)!.seq;
    first.client.cut();
    const second = await connectAiClient(h.url(), 'websocket', {
      query: { 'X-Atmosphere-Run-Id': runId, 'X-Atmosphere-Last-Seq': String(lastSeq) },
    });
    expect(second.client.trackingId).not.toBe(first.client.trackingId);
    await eventually(() => second.frames().length === seen.length - lastSeq, 'the catch-up');
    expect(second.frames().map((f) => f.seq)).toEqual(seen.slice(lastSeq).map((f) => f.seq));
    h.replay!.release();
    const end = await second.answer();
    const combined = [...seen.slice(0, lastSeq), ...second.frames()];
    expectWholeSession(combined);
    expect(answerOf(combined, end.sessionId).text).toBe(FULL);
    await second.close();
  });

  test('re-attaching to a finished run replays it; an unknown run id gets UNKNOWN_RUN', async () => {
    h = await harness({ steps: [sseStep('openai-text.sse')] });
    const first = await connectAiClient(h.url());
    await first.prompt('Hi');
    const done = await first.answer();
    const late = await connectAiClient(h.url(), 'sse', { query: { 'X-Atmosphere-Run-Id': done.runId! } });
    await eventually(() => late.frames().length === done.frames.length, 'the whole run');
    expect(late.frames()).toEqual(done.frames);
    const unknown = await connectAiClient(h.url(), 'websocket', {
      query: { 'X-Atmosphere-Run-Id': 'no-such-run' },
    });
    expect((await unknown.answer()).end).toMatchObject({ type: 'error', code: 'UNKNOWN_RUN' });
    await first.close();
    await late.close();
    await unknown.close();
  });
});
