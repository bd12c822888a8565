import { eventually, type TestTransport } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { tool } from '../src/tools/tool.ts';
import { InMemoryConversationMemory } from '../src/memory/in-memory-conversation-memory.ts';
import type { AiFrame } from '@atmosphere/protocol';
import { answerOf, connectAiClient } from '../src/testing/index.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const isText = (f: AiFrame) => 'type' in f && f.type === 'streaming-text';

/** The tool openai-tool-call.sse asks for. */
function lookupTool() {
  return tool({
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: z.object({ city: z.string() }),
    execute: ({ city }) => ({ city, celsius: 21 }),
  });
}
const FULL = transcriptText('openai-text.sse');

describe('stop: the user stops a run (a frame, not a disconnect)', () => {
  test.each(['websocket', 'sse', 'streaming', 'long-polling'] as TestTransport[])(
    'over %s the upstream request is aborted, the text so far stands and the run ends "stopped" with the usage so far',
    async (transport) => {
      const memory = new InMemoryConversationMemory();
      h = await harness({
        // A tool round first (its call reports 81 + 15 tokens), then a long answer held open mid-way.
        steps: [sseStep('openai-tool-call.sse'), sseStep('openai-text.sse', { pauseAfter: 4 })],
        tools: [lookupTool()],
        conversationMemory: memory,
      });
      const client = await connectAiClient(h.url(), transport);
      await client.prompt('Tell me a long story');
      await eventually(() => client.frames().filter(isText).length === 3, 'three tokens');
      const runId = answerOf(client.frames(), client.frames()[0]!.sessionId).runId!;
      await client.stop(runId);
      const answer = await client.answer();
      expect(answer.end).toMatchObject({
        type: 'complete',
        reason: 'stopped',
        usage: { input: 81, output: 15, cachedInput: 0, total: 96 },
      });
      // The model request is aborted upstream: the replay server sees the second one go away.
      expect(await h.replay!.aborts.next(1_000)).toBe(1);
      expect(answer.text.length).toBeGreaterThan(0);
      expect(FULL.startsWith(answer.text)).toBe(true);
      expect(answer.text).not.toBe(FULL);
      // The partial answer is the conversation's last word; the client stays connected and can ask again.
      const history = await memory.history(client.client.trackingId);
      expect(history).toEqual([
        { role: 'user', content: 'Tell me a long story' },
        { role: 'assistant', content: answer.text },
      ]);
      expect(h.atmosphere.resource(client.client.trackingId)?.state).not.toBe('closed');
      expect(h.endpoint.active).toBe(0);
      await client.close();
    },
  );

  test('a stop from a client outside the run is refused and changes nothing; an unknown run is an error', async () => {
    h = await harness({ steps: [sseStep('openai-text.sse', { pauseAfter: 4 })] });
    const owner = await connectAiClient(h.url());
    const stranger = await connectAiClient(h.url());
    await owner.prompt('Tell me a long story');
    await eventually(() => owner.frames().some(isText), 'a token');
    const runId = answerOf(owner.frames(), owner.frames()[0]!.sessionId).runId!;
    await stranger.stop(runId);
    expect((await stranger.answer()).end).toMatchObject({ type: 'error', code: 'FORBIDDEN' });
    await stranger.stop('no-such-run');
    expect((await stranger.answer()).end).toMatchObject({ type: 'error', code: 'UNKNOWN_RUN' });
    h.replay!.release();
    const answer = await owner.answer();
    expect(answer.end).toMatchObject({ type: 'complete' });
    expect(answer.end?.type === 'complete' && answer.end.reason).toBeUndefined();
    expect(answer.text).toBe(FULL);
    // A stop after the end crossed it: nothing happens, no error. An unknown approval answer, handled after
    // it in order, is the fence: its error frame is the only one.
    await owner.stop(runId);
    await owner.approve('fence');
    expect((await owner.answer()).end).toMatchObject({ type: 'error', code: 'UNKNOWN_APPROVAL' });
    expect(owner.frames().filter((f) => 'type' in f && f.type === 'error')).toHaveLength(1);
    await owner.close();
    await stranger.close();
  });
});
