import { answerOf, collectingSession } from '@atmosphere/ai/testing';
import { AIMessage } from '@langchain/core/messages';
import type { LangGraphRunnableConfig } from '@langchain/langgraph';
import { fakeModel } from '@langchain/core/testing';
import { tool } from '@langchain/core/tools';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { END, MessagesAnnotation, START, StateGraph } from '@langchain/langgraph';
import { ToolNode, toolsCondition } from '@langchain/langgraph/prebuilt';
import { describe, expect, test } from 'vitest';
import { z } from 'zod';
import { streamGraph } from '../src/index.ts';

const question = { messages: [{ role: 'user', content: 'Weather in Montreal?' }] };

/** agent (tool call) → tools → agent (no call) → writer (a streaming model that writes the answer). */
function weatherGraph(calls: unknown[], options: { failTool?: boolean; words?: number } = {}) {
  const getWeather = tool(
    async ({ city }: { city: string }, config: LangGraphRunnableConfig) => {
      calls.push(city);
      config.writer?.(`Looking up ${city}…`);
      if (options.failTool) throw new Error('the weather service is down');
      return `21°C in ${city}`;
    },
    { name: 'get_weather', description: 'The weather in a city.', schema: z.object({ city: z.string() }) },
  );
  const planner = fakeModel()
    .respond(
      new AIMessage({
        content: '',
        tool_calls: [{ name: 'get_weather', args: { city: 'Montreal' }, id: 'call_g1', type: 'tool_call' }],
      }),
    )
    .respond(new AIMessage('(internal: enough facts)'));
  const bound = planner.bindTools([getWeather]);
  const writer = new FakeListChatModel({
    responses: [options.words ? 'word '.repeat(options.words) : 'It is 21°C in Montreal.'],
    ...(options.words ? { sleep: 5 } : {}),
  });
  return new StateGraph(MessagesAnnotation)
    .addNode('agent', async (state) => ({ messages: [await bound.invoke(state.messages)] }))
    .addNode('tools', new ToolNode([getWeather], { handleToolErrors: true }))
    .addNode('writer', async (state, config) => ({ messages: [await writer.invoke(state.messages, config)] }))
    .addEdge(START, 'agent')
    .addConditionalEdges('agent', toolsCondition, { tools: 'tools', __end__: 'writer' })
    .addEdge('tools', 'agent')
    .addEdge('writer', END)
    .compile();
}

describe('streamGraph (LangGraph stream modes)', () => {
  test('steps, tool start and result, writer progress and the streamed answer reach the session in order', async () => {
    const calls: unknown[] = [];
    const { session, frames } = collectingSession();
    const result = await streamGraph(weatherGraph(calls), question, session, { textFrom: ['writer'] });
    const answer = answerOf(frames.items, session.sessionId);
    expect(answer.end?.type).toBe('complete');
    expect(calls).toEqual(['Montreal']);
    expect(answer.events('agent-step').map((s) => s.stepName)).toEqual(['agent', 'tools', 'agent', 'writer']);
    expect(result.steps).toEqual(['agent', 'tools', 'agent', 'writer']);
    expect(answer.events('tool-start')).toEqual([
      { toolName: 'get_weather', arguments: { city: 'Montreal' }, toolCallId: 'call_g1' },
    ]);
    expect(answer.events('tool-result')).toEqual([
      { toolName: 'get_weather', result: '21°C in Montreal', toolCallId: 'call_g1' },
    ]);
    expect(
      frames.items.filter((f) => f.type === 'progress').map((f) => f.type === 'progress' && f.data),
    ).toEqual(['Looking up Montreal…']);
    // The planner's own words stay out of the answer: only the writer node's tokens are the text.
    expect(answer.text).toBe('It is 21°C in Montreal.');
    expect(result.text).toBe('It is 21°C in Montreal.');
    expect(result.toolCalls).toBe(1);
    // Streamed token by token, not as one block.
    expect(frames.items.filter((f) => f.type === 'streaming-text').length).toBeGreaterThan(5);
    const names = frames.items.map((f) => (f.type === 'event' ? f.event : f.type));
    expect(names.indexOf('tool-start')).toBeLessThan(names.indexOf('tool-result'));
    expect(names.indexOf('tool-result')).toBeLessThan(names.indexOf('streaming-text'));
  });

  test('without textFrom every node speaks; a failing tool is a tool-error, not a failed run', async () => {
    const { session, frames } = collectingSession();
    const result = await streamGraph(weatherGraph([], { failTool: true }), question, session);
    const answer = answerOf(frames.items, session.sessionId);
    expect(answer.end?.type).toBe('complete');
    expect(answer.events('tool-error')).toEqual([
      {
        toolName: 'get_weather',
        error: expect.stringContaining('the weather service is down'),
        toolCallId: 'call_g1',
      },
    ]);
    expect(answer.events('tool-result')).toEqual([]);
    expect(result.text).toBe('(internal: enough facts)It is 21°C in Montreal.');
  });

  test('aborting the signal stops the graph mid-answer and ends the session as cancelled', async () => {
    const { session, frames } = collectingSession();
    const controller = new AbortController();
    const done = streamGraph(weatherGraph([], { words: 500 }), question, session, {
      signal: controller.signal,
      textFrom: ['writer'],
    });
    await frames.waitFor((f) => f.type === 'streaming-text' && f.seq >= 3);
    controller.abort(new Error('the reader left'));
    const result = await done;
    expect(session.closed).toBe(true);
    expect(frames.items.at(-1)).toMatchObject({ type: 'error', code: 'CANCELLED' });
    expect(result.text.length).toBeGreaterThan(0);
    expect(result.text.length).toBeLessThan('word '.repeat(500).length);
  });

  test('a failing node ends the session with its error; with end: false the promise rejects instead', async () => {
    const failing = new StateGraph(MessagesAnnotation)
      .addNode('retrieve', () => {
        throw new Error('the retriever is down');
      })
      .addEdge(START, 'retrieve')
      .addEdge('retrieve', END)
      .compile();
    const first = collectingSession();
    await streamGraph(failing, question, first.session);
    expect(first.frames.items.at(-1)).toMatchObject({
      type: 'error',
      data: expect.stringContaining('the retriever is down'),
    });
    const second = collectingSession();
    await expect(streamGraph(failing, question, second.session, { end: false })).rejects.toThrow(
      'the retriever is down',
    );
    expect(second.session.closed).toBe(false);
  });
});
