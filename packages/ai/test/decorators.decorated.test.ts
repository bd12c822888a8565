import { afterEach, expect, test } from 'vitest';
import { startTestAtmosphere } from '@atmosphere/runtime/testing';
import type { Atmosphere } from '@atmosphere/runtime';
import { aiEndpoint } from '../src/endpoint/ai-endpoint.ts';
import type { AiSession } from '../src/endpoint/ai-endpoint-options.ts';
import { AiEndpoint, aiEndpointOptionsOf, Prompt } from '../src/endpoint/decorators.ts';
import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { connectAiClient } from '../src/testing/index.ts';

let atmosphere: Atmosphere | undefined;
afterEach(async () => {
  await atmosphere?.close();
  atmosphere = undefined;
});

@AiEndpoint({
  path: '/ai/decorated',
  runtime: demoRuntime({ delayMs: 0, answer: (context) => `Echo: ${context.message}` }),
})
class DecoratedChat {
  readonly prompts: string[] = [];

  @Prompt()
  async onPrompt(prompt: string, session: AiSession): Promise<void> {
    this.prompts.push(prompt);
    session.progress('Decorated handler');
    await session.stream(prompt.toUpperCase());
  }
}

test('@AiEndpoint + @Prompt register the same endpoint as the options object', async () => {
  const chat = new DecoratedChat();
  expect(aiEndpointOptionsOf(chat)?.path).toBe('/ai/decorated');
  expect(aiEndpointOptionsOf({ path: '/plain' })).toBeUndefined();
  atmosphere = await startTestAtmosphere();
  const endpoint = aiEndpoint(atmosphere, chat);
  const client = await connectAiClient(atmosphere.url('/ai/decorated'));
  await client.prompt('hello');
  const answer = await client.answer();
  expect(answer.text).toBe('Echo: HELLO');
  expect(
    answer.frames.some((f) => 'type' in f && f.type === 'progress' && f.data === 'Decorated handler'),
  ).toBe(true);
  expect(chat.prompts).toEqual(['hello']);
  await client.close();
  await endpoint.close();
});
