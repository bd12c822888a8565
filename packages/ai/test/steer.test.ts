import type { AiEventFrame, AiFrame } from '@atmosphere/protocol';
import { eventually, type TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { answerOf, connectAiClient } from '../src/testing/index.ts';
import { tool } from '../src/tools/tool.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');
const isText = (f: AiFrame) => 'type' in f && f.type === 'streaming-text';
const steerAcks = (frames: readonly AiFrame[]) =>
  frames
    .filter((f): f is AiEventFrame<'steer'> => f.type === 'event' && f.event === 'steer')
    .map((f) => f.data);

/** The tool openai-tool-call.sse asks for; it runs only once the test opens the gate. */
function gatedTool() {
  let open!: () => void;
  let entered!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const running = new Promise<void>((resolve) => (entered = resolve));
  const weather = tool({
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: z.object({ city: z.string() }),
    execute: async ({ city }) => {
      entered();
      await gate;
      return { city, celsius: 21 };
    },
  });
  return { weather, running, open };
}

/** The messages of the n-th request the replay server received. */
async function requestMessages(n: number): Promise<{ role: string; content: unknown }[]> {
  const requests = await h!.replay!.requests.waitForCount(n + 1);
  return requests[n]!.body!['messages'] as { role: string; content: unknown }[];
}

describe('steer: guidance for the running answer at its next step boundary', () => {
  test.each(['websocket', 'long-polling'] as TestTransport[])(
    'over %s, guidance sent during a tool round reaches the next model call; accepted, then applied',
    async (transport) => {
      const { weather, running, open } = gatedTool();
      h = await harness({
        steps: [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
        tools: [weather],
      });
      const client = await connectAiClient(h.url(), transport);
      await client.prompt('Weather in Montreal?');
      await running;
      const runId = answerOf(client.frames(), client.frames()[0]!.sessionId).runId!;
      await client.steer(runId, 'g-1', 'Answer in French, please.');
      await client.waitFor((f) => steerAcks([f]).some((a) => a.status === 'accepted'));
      open();
      const answer = await client.answer();
      expect(answer.end).toMatchObject({ type: 'complete' });
      // The follow-up request: the tool result, then the guidance as the user's word.
      const messages = await requestMessages(1);
      expect(messages.at(-2)).toMatchObject({ role: 'tool' });
      expect(messages.at(-1)).toEqual({ role: 'user', content: 'Answer in French, please.' });
      expect((await requestMessages(0)).some((m) => m.content === 'Answer in French, please.')).toBe(false);
      expect(steerAcks(answer.frames)).toEqual([
        { steerId: 'g-1', status: 'accepted', text: 'Answer in French, please.' },
        { steerId: 'g-1', status: 'applied' },
      ]);
      await client.close();
    },
  );

  test('guidance sent while the model answers gets one more model call at the end of it', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 }), sseStep('openai-text.sse')],
    });
    const client = await connectAiClient(h.url());
    await client.prompt('Tell me a story');
    await eventually(() => client.frames().filter(isText).length === 3, 'three tokens');
    const runId = answerOf(client.frames(), client.frames()[0]!.sessionId).runId!;
    await client.steer(runId, 'shorter', 'Make it shorter.');
    await client.waitFor((f) => steerAcks([f]).length > 0);
    h.replay!.release();
    const answer = await client.answer();
    expect(answer.end).toMatchObject({ type: 'complete' });
    expect(answer.text).toBe(FULL + FULL);
    const messages = await requestMessages(1);
    expect(messages.slice(-2)).toEqual([
      { role: 'assistant', content: FULL },
      { role: 'user', content: 'Make it shorter.' },
    ]);
    expect(steerAcks(answer.frames).map((a) => a.status)).toEqual(['accepted', 'applied']);
    await client.close();
  });

  test('guidance no step boundary took is acknowledged unused before the end; bad steers are refused', async () => {
    h = await harness({
      steps: [sseStep('openai-text.sse', { pauseAfter: 4 })],
      // One model call allowed: no boundary left for the guidance.
      maxToolRounds: 1,
    });
    const client = await connectAiClient(h.url());
    const stranger = await connectAiClient(h.url());
    await client.prompt('Tell me a story');
    await eventually(() => client.frames().some(isText), 'a token');
    const runId = answerOf(client.frames(), client.frames()[0]!.sessionId).runId!;
    await client.steer(runId, 'late', 'Shorter.');
    await client.waitFor((f) => steerAcks([f]).length > 0);
    // A stranger, an empty guidance, a malformed message, an unknown run: each refused, nothing changes.
    await stranger.steer(runId, 'x', 'Take over.');
    expect((await stranger.answer()).end).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await client.steer(runId, 'empty', '   ');
    expect((await client.answer()).end).toMatchObject({ type: 'error', code: 'INVALID_PROMPT' });
    await client.prompt(`/__steer/${runId} no id`);
    expect((await client.answer()).end).toMatchObject({ type: 'error', code: 'INVALID_PROMPT' });
    await client.steer('no-such-run', 'x', 'Hello');
    expect((await client.answer()).end).toMatchObject({ type: 'error', code: 'UNKNOWN_RUN' });
    h.replay!.release();
    const answer = await client.answer(answerOf(client.frames(), client.frames()[0]!.sessionId).sessionId);
    expect(answer.text).toBe(FULL);
    expect(steerAcks(answer.frames)).toEqual([
      { steerId: 'late', status: 'accepted', text: 'Shorter.' },
      { steerId: 'late', status: 'unused' },
    ]);
    expect(h.replay!.requests.items).toHaveLength(1);
    await client.close();
    await stranger.close();
  });
});
