import { collectingSession } from '@atmosphere/ai/testing';
import { answerOf } from '@atmosphere/ai/testing';
import { dispatchCustomEvent } from '@langchain/core/callbacks/dispatch';
import { AIMessage } from '@langchain/core/messages';
import { RunnableLambda } from '@langchain/core/runnables';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { streamRunnable } from '../src/index.ts';

function weatherGraph(calls: unknown[]) {
  const getWeather = tool(
    async ({ city }: { city: string }) => {
      calls.push(city);
      await dispatchCustomEvent('progress', `Looking up ${city}…`);
      return `21°C in ${city}`;
    },
    { name: 'get_weather', description: 'The weather in a city.', schema: z.object({ city: z.string() }) },
  );
  const model = fakeModel()
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [{ name: 'get_weather', args: { city: 'Montreal' }, id: 'call_g1', type: 'tool_call' }],
      }),
    )
    .respond(new AIMessage('It is 21°C in Montreal.'));
  const bound = model.bindTools([getWeather]);
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await bound.invoke(state.messages)] }))
    .addNode('tools', new ToolNode([getWeather]))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', toolsCondition, ['tools', END])
    .addEdge('tools', 'agent')
    .compile();
}

describe('streamRunnable', () => {
  test('a compiled LangGraph graph: steps, tool events, progress and the answer reach the session', async () => {
    const calls: unknown[] = [];
    const { session, frames } = collectingSession();
    const result = await streamRunnable(
      weatherGraph(calls),
      { messages: [{ role: 'user', content: 'Weather in Montreal?' }] },
      session,
    );
    const answer = answerOf(frames.items, session.sessionId);
    expect(answer.end?.type).toBe('complete');
    expect(calls).toEqual(['Montreal']);
    expect(answer.events('agent-step').map((s) => s.stepName)).toEqual(['agent', 'tools', 'agent']);
    expect(result.steps).toEqual(['agent', 'tools', 'agent']);
    expect(answer.events('tool-start')).toEqual([
      { toolName: 'get_weather', arguments: { city: 'Montreal' }, toolCallId: 'call_g1' },
    ]);
    expect(answer.events('tool-result')).toEqual([
      { toolName: 'get_weather', result: '21°C in Montreal', toolCallId: 'call_g1' },
    ]);
    expect(
      frames.items.filter((f) => f.type === 'progress').map((f) => f.type === 'progress' && f.data),
    ).toEqual(['Looking up Montreal…']);
    expect(answer.text).toBe('It is 21°C in Montreal.');
    const names = frames.items.map((f) => (f.type === 'event' ? f.event : f.type));
    expect(names.indexOf('tool-start')).toBeLessThan(names.indexOf('tool-result'));
    expect(names.indexOf('tool-result')).toBeLessThan(names.indexOf('streaming-text'));
  });

  test('a streaming chain sends its text as it comes; aborting the signal ends the session as cancelled', async () => {
    const model = new FakeListChatModel({ responses: ['word '.repeat(500)], sleep: 5 });
    const chain = RunnableLambda.from((input: string) => [{ role: 'user', content: input }]).pipe(model);
    const { session, frames } = collectingSession();
    const controller = new AbortController();
    const done = streamRunnable(chain, 'Tell a long story', session, { signal: controller.signal });
    await frames.waitFor((f) => f.type === 'streaming-text' && f.seq >= 3);
    controller.abort(new Error('the reader left'));
    const result = await done;
    expect(session.closed).toBe(true);
    expect(frames.items.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED' });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.text.length).toBeLessThan('word '.repeat(500).length);
  });

  test('a failing runnable ends the session with its error; with end: false the promise rejects instead', async () => {
    const failing = RunnableLambda.from(() => {
      throw new Error('the retriever is down');
    });
    const first = collectingSession();
    await streamRunnable(failing, 'x', first.session);
    expect(first.frames.items.at(-1)).toMatchObject({
      type: 'error',
      data: expect.stringContaining('the retriever is down'),
    });
    const second = collectingSession();
    await expect(streamRunnable(failing, 'x', second.session, { end: false })).rejects.toThrow(
      'the retriever is down',
    );
    expect(second.session.closed).toBe(false);
  });
});
