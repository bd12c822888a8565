import { afterEach, describe, expect, test } from 'vitest';
import type { AiFrame } from '@atmosphere/protocol';
import type { WhileAnswering } from '../src/endpoint/ai-endpoint-options.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { connectAiClient } from '../src/testing/index.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/**
 * An endpoint whose answers echo their prompt and then wait for the test to release them (or for a stop),
 * so that "while an answer is running" is a state the test holds, not a race.
 */
async function gated(policy: WhileAnswering, extra: { debounceMs?: number } = {}) {
  const prompts: string[] = [];
  const releases: (() => void)[] = [];
  h = await harness({
    runtime: demoRuntime(),
    whileAnswering: policy,
    ...extra,
    onPrompt: async (prompt, session) => {
      prompts.push(prompt);
      session.send(`echo:${prompt}`);
      await new Promise<void>((resolve) => {
        releases.push(resolve);
        session.signal.addEventListener('abort', () => resolve(), { once: true });
      });
    },
  });
  const client = await connectAiClient(h.url());
  const texts = (): string[] =>
    client
      .frames()
      .filter((f): f is Extract<AiFrame, { type: 'streaming-text' }> => f.type === 'streaming-text')
      .map((f) => f.data);
  const ends = (): AiFrame[] => client.frames().filter((f) => f.type === 'complete' || f.type === 'error');
  return { client, prompts, releases, texts, ends };
}

describe('messages sent while an answer is running', () => {
  test('queue (the default): answered after the running one, in order, each whole', async () => {
    const { client, prompts, releases, texts, ends } = await gated('queue');
    await client.prompt('one');
    await client.waitFor((f) => f.type === 'streaming-text');
    await client.prompt('two');
    await client.prompt('three');
    await client.prompt('four');
    // A client's messages are handled in order: once this empty prompt is refused, all of them were admitted;
    // nothing of the next answer has started while the first runs.
    await client.prompt('');
    await client.waitFor((f) => f.type === 'error' && f.code === 'INVALID_PROMPT');
    expect(prompts).toEqual(['one']);
    releases[0]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:two');
    expect(prompts).toEqual(['one', 'two']);
    releases[1]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:three');
    releases[2]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:four');
    releases[3]!();
    await client.waitFor(() => ends().filter((f) => f.type === 'complete').length === 4);
    expect(texts()).toEqual(['echo:one', 'echo:two', 'echo:three', 'echo:four']);
    // Sessions do not interleave: each answer's frames come before the next answer's.
    const order = client
      .frames()
      .filter((f) => !(f.type === 'error' && f.code === 'INVALID_PROMPT'))
      .map((f) => f.sessionId);
    const firstIndex = [...new Set(order)].map((id) => order.indexOf(id));
    const lastIndex = [...new Set(order)].map((id) => order.lastIndexOf(id));
    for (let i = 1; i < firstIndex.length; i++) expect(firstIndex[i]!).toBeGreaterThan(lastIndex[i - 1]!);
    await client.close();
  });

  test('latest: the running answer ends stopped (its text kept) and the newest is answered', async () => {
    const { client, prompts, releases, ends } = await gated('latest');
    await client.prompt('old');
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:old');
    await client.prompt('new');
    const stopped = await client.waitFor((f) => f.type === 'complete' && f.reason === 'stopped');
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:new');
    expect(prompts).toEqual(['old', 'new']);
    releases[1]!();
    const done = await client.waitFor((f) => f.type === 'complete' && f.sessionId !== stopped.sessionId);
    expect(done).toMatchObject({ type: 'complete', reason: undefined });
    expect(ends()).toHaveLength(2);
    await client.close();
  });

  test('merge: the prompts sent meanwhile are folded into one, answered after the running one', async () => {
    const { client, prompts, releases } = await gated('merge');
    await client.prompt('first');
    await client.waitFor((f) => f.type === 'streaming-text');
    await client.prompt('second');
    await client.prompt('third');
    // A client's messages are handled in order: once this empty prompt is refused, both have been admitted.
    await client.prompt('');
    await client.waitFor((f) => f.type === 'error' && f.code === 'INVALID_PROMPT');
    releases[0]!();
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:second\n\nthird');
    expect(prompts).toEqual(['first', 'second\n\nthird']);
    releases[1]!();
    await client.close();
  });

  test('drop: a prompt sent meanwhile is refused with BUSY; the running answer goes on; afterwards prompts are answered', async () => {
    const { client, prompts, releases } = await gated('drop');
    await client.prompt('busy');
    await client.waitFor((f) => f.type === 'streaming-text');
    await client.prompt('refused');
    const refused = await client.waitFor((f) => f.type === 'error');
    expect(refused).toMatchObject({ code: 'BUSY' });
    releases[0]!();
    await client.waitFor((f) => f.type === 'complete');
    await client.prompt('later');
    await client.waitFor((f) => f.type === 'streaming-text' && f.data === 'echo:later');
    expect(prompts).toEqual(['busy', 'later']);
    releases[1]!();
    await client.close();
  });

  test('debounce: prompts in quick succession become one prompt once the client is quiet', async () => {
    const { client, prompts, releases } = await gated('debounce', { debounceMs: 200 });
    await client.prompt('a');
    await client.prompt('b');
    await client.prompt('c');
    await client.waitFor((f) => f.type === 'streaming-text');
    expect(prompts).toEqual(['a\n\nb\n\nc']);
    releases[0]!();
    await client.waitFor((f) => f.type === 'complete');
    await client.close();
  });
});
