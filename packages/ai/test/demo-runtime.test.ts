import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { createAgentContext } from '../src/pipeline/agent-context.ts';
import { demoAnswer, demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { answerOf, collectingSession } from '../src/testing/index.ts';
import { tool } from '../src/tools/tool.ts';

/** The demo model's whole answer to `message`, and the arguments of the tools it called. */
async function ask(
  message: string,
  options: Partial<Pick<Parameters<typeof createAgentContext>[0], 'systemPrompt' | 'tools'>> = {},
): Promise<{ text: string; calls: unknown[] }> {
  const { session, frames } = collectingSession();
  await demoRuntime({ delayMs: 0 }).execute(
    createAgentContext({ message, session, ...options }),
    session,
    new AbortController().signal,
  );
  const answer = answerOf(frames.items, session.sessionId);
  expect(answer.end?.type).toBe('complete');
  return { text: answer.text, calls: answer.events('tool-start').map((e) => e.arguments) };
}

describe('the demo model', () => {
  test('a poet persona writes a short poem from the words of the prompt, and says it is the demo', async () => {
    const { text } = await ask('alice: the ocean at midnight and a lighthouse', {
      systemPrompt: 'You are Poet, a member of a group chat. Answer with a short poem of four lines at most.',
    });
    const lines = text.split('\n');
    expect(lines).toHaveLength(4);
    expect(text).toMatch(/ocean/i);
    expect(text).toMatch(/midnight/i);
    expect(text).toMatch(/lighthouse/i);
    expect(text).not.toMatch(/alice/i);
    expect(lines.at(-1)).toBe('a demo poet, keeping time.');
  });

  test('another persona answers as itself: it is the demo model, says what to configure, and claims no feature', async () => {
    const { text } = await ask('bob: what time is it in Tokyo?', {
      systemPrompt: 'You are Assistant, a member of a group chat.',
    });
    expect(text).toContain("I'm the demo model, standing in for Assistant");
    expect(text).toContain('You asked: “bob: what time is it in Tokyo?”');
    expect(text).toContain('time, tokyo');
    expect(text).toContain('LLM_API_KEY');
    expect(text).not.toMatch(/tool|approval|reconnect|progress/i);
    expect(text.split('\n')).toHaveLength(1);
    expect(demoAnswer(createAgentContext({ message: 'hi', session: collectingSession().session }))).toMatch(
      /^Hi! I'm the demo model: /,
    );
  });

  test('tool arguments come from the prompt: a place after "in", an address, what the message says', async () => {
    const weather = tool({
      name: 'get_weather',
      description: 'Current weather of a city',
      parameters: z.object({ city: z.string() }),
      execute: ({ city }) => ({ city, celsius: 21 }),
    });
    const email = tool({
      name: 'send_email',
      description: 'Send an email',
      parameters: z.object({ to: z.string(), subject: z.string().optional(), body: z.string().optional() }),
      execute: (args) => ({ sent: true, ...args }),
    });
    const tools = [weather, email];
    expect((await ask("What's the weather like in New York today?", { tools })).calls).toEqual([
      { city: 'New York' },
    ]);
    expect((await ask('is there rain in montreal', { tools })).calls).toEqual([]);
    expect((await ask('weather for lyon please', { tools })).calls).toEqual([{ city: 'lyon' }]);
    expect(
      (await ask('Send an email to bob@example.com to say the build is green.', { tools })).calls,
    ).toEqual([{ to: 'bob@example.com', subject: 'The build is green', body: 'The build is green.' }]);
    expect((await ask('Use send_email to ana@example.org about the launch party', { tools })).calls).toEqual([
      { to: 'ana@example.org', subject: 'The launch party', body: 'The launch party.' },
    ]);
    const { text } = await ask('What is the weather in Paris?', { tools });
    expect(text).toContain('I called get_weather and it returned {"city":"Paris","celsius":21}');
  });
});
