import { tool as atmosphereTool } from '@atmosphere/ai';
import { createAgentContext } from '@atmosphere/ai/spi';
import { answerOf, collectingSession } from '@atmosphere/ai/testing';
import { tool } from 'ai';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { scriptedModel } from '../../test/mock-models.ts';
import { UiChunkMapper } from '../chat/ui-chunks.ts';
import { aiSdkTools } from './tools.ts';
import { vercelAiRuntime } from './vercel-ai-runtime.ts';

const run = async (
  runtime: ReturnType<typeof vercelAiRuntime>,
  input: Parameters<typeof createAgentContext>[0] extends infer I ? Omit<I & object, 'session'> : never,
) => {
  const { session, frames } = collectingSession();
  await runtime.execute(createAgentContext({ ...input, session }), session, new AbortController().signal);
  return { frames: frames.items, answer: answerOf(frames.items, session.sessionId) };
};

describe('vercelAiRuntime: the full stream as AI frames', () => {
  test('reasoning, sources, tool input streaming, step boundaries and usage become frames, in order', async () => {
    const model = scriptedModel([
      {
        reasoning: ['Think', 'ing'],
        toolCalls: [{ id: 'c1', name: 'lookup', input: ['{"q":', '"x"}'] }],
        usage: [5, 3],
      },
      { sources: [{ url: 'https://example.org/a', title: 'A' }], text: ['Found', ' it.'], usage: [7, 2] },
    ]);
    const lookup = atmosphereTool({
      name: 'lookup',
      description: 'Looks up',
      parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
      execute: () => 'result',
    });
    const { frames, answer } = await run(vercelAiRuntime({ model }), { message: 'go', tools: [lookup] });
    expect(answer.end?.type).toBe('complete');
    expect(answer.text).toBe('Found it.');
    expect(answer.events('reasoning-delta').map((e) => e.text)).toEqual(['Think', 'ing']);
    expect(answer.events('reasoning-complete')).toEqual([{ text: 'Thinking' }]);
    expect(answer.metadata.get('ai.toolCall.start.c1')).toBe('lookup');
    expect(answer.metadata.get('ai.toolCall.end.c1')).toBe(true);
    expect(
      frames
        .filter((f) => f.type === 'metadata' && f.key === 'ai.toolCall.delta.c1')
        .map((f) => 'value' in f && f.value),
    ).toEqual(['{"q":', '"x"}']);
    expect(answer.events('tool-start')).toEqual([
      { toolName: 'lookup', arguments: { q: 'x' }, toolCallId: 'c1' },
    ]);
    expect(answer.events('tool-result')).toEqual([
      { toolName: 'lookup', result: 'result', toolCallId: 'c1' },
    ]);
    expect(answer.events('citation')).toEqual([{ url: 'https://example.org/a', title: 'A', source: 's1' }]);
    expect(answer.events('agent-step').map((e) => e.stepName)).toEqual([
      'step-start',
      'step-finish',
      'step-start',
      'step-finish',
    ]);
    expect(answer.metadata.get('ai.tokens.total')).toBe(17);
    expect(answer.metadata.get('ai.model')).toBe('mock-model');
    // The same frames, read by the UI mapper, make one assistant message with every part.
    const mapper = new UiChunkMapper();
    const chunks = [...mapper.start(), ...frames.flatMap((f) => mapper.frame(f))];
    expect(chunks.map((c) => c.type)).toEqual([
      'start',
      'start-step',
      'reasoning-start',
      'reasoning-delta',
      'reasoning-delta',
      'reasoning-end',
      'tool-input-start',
      'tool-input-delta',
      'tool-input-delta',
      'tool-input-available',
      'tool-output-available',
      'finish-step',
      'start-step',
      'source-url',
      'text-start',
      'text-delta',
      'text-delta',
      'text-end',
      'finish-step',
      'finish',
    ]);
  });

  test('AI SDK tools given to the runtime run in the SDK loop, with tool events', async () => {
    const model = scriptedModel([
      { toolCalls: [{ id: 'c1', name: 'add', input: ['{"a":2,"b":3}'] }] },
      { text: ['5'] },
    ]);
    const runtime = vercelAiRuntime({
      model,
      tools: {
        add: tool({
          description: 'adds',
          inputSchema: z.object({ a: z.number(), b: z.number() }),
          execute: ({ a, b }) => a + b,
        }),
      },
    });
    const { answer } = await run(runtime, { message: 'add' });
    expect(answer.events('tool-start')).toEqual([
      { toolName: 'add', arguments: { a: 2, b: 3 }, toolCallId: 'c1' },
    ]);
    expect(answer.events('tool-result')).toEqual([{ toolName: 'add', result: 5, toolCallId: 'c1' }]);
    expect(answer.text).toBe('5');
  });

  test('an SDK tool that needs approval is refused at construction, pointing at aiSdkTools', () => {
    expect(() =>
      vercelAiRuntime({
        model: scriptedModel([]),
        tools: { pay: tool({ inputSchema: z.object({}), needsApproval: true, execute: () => 'paid' }) },
      }),
    ).toThrow(/aiSdkTools/);
  });

  test('aiSdkTools: the SDK schema validates, needsApproval reaches the gate, invalid input never executes', async () => {
    const ran: unknown[] = [];
    const [pay] = aiSdkTools({
      pay: tool({
        description: 'Pays',
        inputSchema: z.object({ amount: z.number().max(100) }),
        needsApproval: ({ amount }: { amount: number }) => amount > 10,
        execute: ({ amount }) => {
          ran.push(amount);
          return `paid ${amount}`;
        },
      }),
    });
    expect(pay!.jsonSchema).toMatchObject({ type: 'object', properties: { amount: { type: 'number' } } });
    expect(await pay!.needsApproval({ amount: 50 })).toBe(true);
    expect(await pay!.needsApproval({ amount: 5 })).toBe(false);
    expect((await pay!.validate({ amount: 500 })).ok).toBe(false);
    const model = scriptedModel([
      { toolCalls: [{ id: 'c9', name: 'pay', input: ['{"amount":500}'] }] },
      { text: ['no'] },
    ]);
    const { answer } = await run(vercelAiRuntime({ model }), { message: 'pay', tools: [pay!] });
    expect(ran).toEqual([]);
    expect(answer.events('tool-error').map((e) => e.toolName)).toEqual(['pay']);
    expect(() => aiSdkTools({ remote: tool({ inputSchema: z.object({}) }) })).toThrow(/no execute/);
  });

  test('a model that keeps calling tools is stopped after maxToolRounds', async () => {
    const model = scriptedModel([{ toolCalls: [{ id: 'c', name: 'lookup', input: ['{}'] }] }]);
    const lookup = atmosphereTool({
      name: 'lookup',
      description: 'x',
      parameters: { type: 'object' },
      execute: () => 'again',
    });
    const { answer } = await run(vercelAiRuntime({ model }), {
      message: 'loop',
      tools: [lookup],
      maxToolRounds: 2,
    });
    expect(answer.end).toMatchObject({ type: 'error', code: 'TOO_MANY_TOOL_ROUNDS' });
    expect(answer.events('tool-result')).toHaveLength(2);
  });
});

describe("vercelAiRuntime: a prompt's caching hint in the provider's form", () => {
  const answer = { text: ['Hi.'] };
  const run = async (provider: string, promptCache: { key?: string; retention?: 'short' | 'long' }) => {
    const model = scriptedModel([answer], provider);
    const runtime = vercelAiRuntime({ model, providerOptions: { openai: { user: 'u-1' } } });
    const { session } = collectingSession();
    await runtime.execute(
      createAgentContext({
        message: 'Hello?',
        session,
        systemPrompt: 'Be brief.',
        history: [
          { role: 'user', content: 'Hi' },
          { role: 'assistant', content: 'Hello.' },
        ],
        promptCache,
      }),
      session,
      new AbortController().signal,
    );
    return { runtime, call: model.doStreamCalls.at(-1)! };
  };

  test("an OpenAI model gets promptCacheKey and promptCacheRetention beside the runtime's own provider options", async () => {
    const { runtime, call } = await run('openai.responses', { key: 'support-v3', retention: 'short' });
    expect(runtime.capabilities.has('prompt-caching')).toBe(true);
    expect(call.providerOptions?.['openai']).toEqual({
      user: 'u-1',
      promptCacheKey: 'support-v3',
      promptCacheRetention: 'in_memory',
    });
    expect(call.prompt.some((m) => m.providerOptions?.['anthropic'] !== undefined)).toBe(false);
  });

  test('an Anthropic model gets breakpoints on the system prompt and the last history message, 1 h when long', async () => {
    const { call } = await run('anthropic.messages', { key: 'ignored', retention: 'long' });
    expect(call.prompt.map((m) => [m.role, m.providerOptions?.['anthropic']])).toEqual([
      ['system', { cacheControl: { type: 'ephemeral', ttl: '1h' } }],
      ['user', undefined],
      ['assistant', { cacheControl: { type: 'ephemeral', ttl: '1h' } }],
      ['user', undefined],
    ]);
    expect(call.providerOptions?.['openai']).toEqual({ user: 'u-1' });
  });

  test('a model of another provider gets nothing, and the runtime does not declare prompt-caching', async () => {
    const { runtime, call } = await run('mistral.chat', { key: 'k', retention: 'long' });
    expect(runtime.capabilities.has('prompt-caching')).toBe(false);
    expect(call.providerOptions).toEqual({ openai: { user: 'u-1' } });
    expect(call.prompt.some((m) => m.providerOptions !== undefined)).toBe(false);
  });
});
