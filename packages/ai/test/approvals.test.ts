import { afterEach, describe, expect, test } from 'vitest';
import { z } from 'zod';
import { connectAiClient } from '../src/testing/index.ts';
import { tool } from '../src/tools/tool.ts';
import type { AiEventFrame } from '@atmosphere/protocol';
import { sseStep } from './fixtures.ts';
import { type Harness, harness } from './helpers.ts';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

function weatherTool(calls: string[]) {
  return tool({
    name: 'get_weather',
    description: 'Current weather of a city',
    parameters: z.object({ city: z.string().min(2) }),
    requiresApproval: true,
    approvalMessage: ({ city }) => `Look up the weather in ${city}?`,
    execute: ({ city }) => {
      calls.push(city);
      return { city, celsius: 21 };
    },
  });
}

async function ask(options: { approvalTimeoutMs?: number } = {}) {
  const calls: string[] = [];
  h = await harness({
    steps: [sseStep('openai-tool-call.sse'), sseStep('openai-tool-followup.sse')],
    tools: [weatherTool(calls)],
    ...options,
  });
  const client = await connectAiClient(h.url());
  await client.prompt('Weather in Montreal?');
  const asked = (await client.waitFor(
    (f) => 'event' in f && f.event === 'approval-required',
  )) as AiEventFrame<'approval-required'>;
  return { calls, client, asked };
}

describe('tool approvals end to end', () => {
  test('approval-required, then approve: the tool runs and the answer continues', async () => {
    const { calls, client, asked } = await ask();
    expect(asked.data).toEqual({
      approvalId: expect.stringMatching(/^[0-9a-f-]{36}$/),
      toolName: 'get_weather',
      arguments: { city: 'Montréal' },
      message: 'Look up the weather in Montréal?',
      expiresIn: 300,
      toolCallId: 'call_DdmO9pD3xa9XTPNJ32zg2hcA',
    });
    expect(calls).toEqual([]);
    await client.approve(asked.data.approvalId);
    const answer = await client.answer();
    expect(calls).toEqual(['Montréal']);
    expect(answer.events('tool-result')).toMatchObject([{ result: { city: 'Montréal', celsius: 21 } }]);
    expect(answer.end?.type).toBe('complete');
    // The decision is a frame of the run, between the request and the tool: a replay sees it answered.
    expect(answer.events('approval-answered')).toEqual([
      { approvalId: asked.data.approvalId, approved: true, toolCallId: asked.data.toolCallId },
    ]);
    const order = answer.frames.map((f) => ('event' in f ? f.event : f.type));
    expect(order.indexOf('approval-required')).toBeLessThan(order.indexOf('approval-answered'));
    expect(order.indexOf('approval-answered')).toBeLessThan(order.indexOf('tool-start'));
    await client.close();
  });

  test('a client re-attaching to the run after the decision gets it replayed after the request', async () => {
    const { client, asked } = await ask();
    await client.approve(asked.data.approvalId);
    const first = await client.answer();
    const runId = first.runId!;
    const later = await connectAiClient(h!.url(), 'sse', { query: { 'X-Atmosphere-Run-Id': runId } });
    const replayed = await later.answer();
    const names = replayed.frames.map((f) => ('event' in f ? f.event : f.type));
    expect(names.filter((n) => n.startsWith('approval-'))).toEqual([
      'approval-required',
      'approval-answered',
    ]);
    expect(replayed.events('approval-answered')[0]).toMatchObject({ approved: true });
    await client.close();
    await later.close();
  });

  test('deny: the tool never runs; the model is told, the answer completes', async () => {
    const { calls, client, asked } = await ask();
    await client.deny(asked.data.approvalId);
    const answer = await client.answer();
    expect(calls).toEqual([]);
    expect(answer.events('tool-error')).toMatchObject([
      { toolName: 'get_weather', error: 'The user denied this tool call.' },
    ]);
    expect(answer.events('approval-answered')).toMatchObject([{ approved: false, reason: 'denied' }]);
    const toolMessage = (
      h!.replay!.requests.items[1]!.body!['messages'] as { role: string; content: string }[]
    ).at(-1);
    expect(toolMessage).toMatchObject({
      role: 'tool',
      content: JSON.stringify({ error: 'The user denied this tool call.' }),
    });
    expect(answer.end?.type).toBe('complete');
    await client.close();
  });

  test('approve with edited arguments runs the tool with them (validated)', async () => {
    const { calls, client, asked } = await ask();
    await client.approve(asked.data.approvalId, { city: 'Paris' });
    const answer = await client.answer();
    expect(calls).toEqual(['Paris']);
    expect(answer.events('tool-start')).toMatchObject([{ arguments: { city: 'Paris' } }]);
    await client.close();
  });

  test('edited arguments that fail validation are a tool error', async () => {
    const { calls, client, asked } = await ask();
    await client.approve(asked.data.approvalId, { city: 'P' });
    const answer = await client.answer();
    expect(calls).toEqual([]);
    expect(answer.events('tool-error')[0]!.error).toMatch(/^The edited arguments are invalid: \$\.city: /);
    await client.close();
  });

  test('a malformed answer is a deny', async () => {
    const { calls, client, asked } = await ask();
    await client.client.send(`/__approval/${asked.data.approvalId}/approve {"arguments": nope}`);
    const answer = await client.answer();
    expect(calls).toEqual([]);
    expect(answer.events('tool-error')).toMatchObject([
      { error: 'The approval answer was malformed, so the call was denied.' },
    ]);
    await client.close();
  });

  test('no answer within the timeout is a deny', async () => {
    const { calls, client, asked } = await ask({ approvalTimeoutMs: 150 });
    expect(asked.data.expiresIn).toBe(1);
    const answer = await client.answer();
    expect(calls).toEqual([]);
    expect(answer.events('tool-error')).toMatchObject([
      { error: 'Nobody approved this tool call in time, so it was denied.' },
    ]);
    expect(answer.events('approval-answered')).toMatchObject([{ approved: false, reason: 'timeout' }]);
    await client.close();
  });

  test("another client cannot answer someone else's approval", async () => {
    const { calls, client, asked } = await ask();
    const stranger = await connectAiClient(h!.url());
    await stranger.approve(asked.data.approvalId);
    expect((await stranger.answer()).end).toMatchObject({ code: 'UNKNOWN_APPROVAL' });
    expect(calls).toEqual([]);
    await client.approve(asked.data.approvalId);
    await client.answer();
    expect(calls).toEqual(['Montréal']);
    await client.approve(asked.data.approvalId);
    expect((await client.answer()).end).toMatchObject({ code: 'UNKNOWN_APPROVAL' });
    await client.close();
    await stranger.close();
  });
});
