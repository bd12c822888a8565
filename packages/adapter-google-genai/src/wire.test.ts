import { describe, expect, test } from 'vitest';
import { toContents, toTokenUsage } from './wire.ts';

describe('Gemini wire mapping', () => {
  test('a history with tool calls becomes model functionCall parts and one user turn of functionResponse parts', () => {
    expect(
      toContents([
        { role: 'system', content: 'ignored here: sent as the system instruction' },
        { role: 'user', content: 'Weather in two cities?' },
        {
          role: 'assistant',
          content: '',
          toolCalls: [
            { id: 'c1', name: 'get_weather', arguments: '{"city":"Montreal"}' },
            { id: 'c2', name: 'get_weather', arguments: 'not json' },
          ],
        },
        { role: 'tool', toolCallId: 'c1', content: '21' },
        { role: 'tool', toolCallId: 'c2', content: 'error: bad arguments' },
        { role: 'assistant', content: 'Montreal: 21.' },
      ]),
    ).toEqual([
      { role: 'user', parts: [{ text: 'Weather in two cities?' }] },
      {
        role: 'model',
        parts: [
          { functionCall: { id: 'c1', name: 'get_weather', args: { city: 'Montreal' } } },
          { functionCall: { id: 'c2', name: 'get_weather', args: {} } },
        ],
      },
      {
        role: 'user',
        parts: [
          { functionResponse: { id: 'c1', name: 'get_weather', response: { output: '21' } } },
          {
            functionResponse: { id: 'c2', name: 'get_weather', response: { output: 'error: bad arguments' } },
          },
        ],
      },
      { role: 'model', parts: [{ text: 'Montreal: 21.' }] },
    ]);
  });

  test('usage: thinking tokens count as output; absent counts stay absent', () => {
    expect(
      toTokenUsage({
        promptTokenCount: 10,
        candidatesTokenCount: 5,
        thoughtsTokenCount: 7,
        totalTokenCount: 22,
      }),
    ).toEqual({ input: 10, output: 12, total: 22 });
    expect(toTokenUsage({ promptTokenCount: 3 })).toEqual({ input: 3 });
    expect(toTokenUsage(undefined)).toBeUndefined();
  });
});
