import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { SseParser } from '../src/index.ts';

function parseAll(chunks: readonly string[]) {
  const parser = new SseParser();
  const events = chunks.flatMap((chunk) => parser.push(chunk));
  return [...events, ...parser.end()];
}

describe("SseParser on model providers' streams", () => {
  test('data lines, multi-line data, comments, event names, CRLF and CR', () => {
    const text =
      ': keep-alive\r\ndata: {"a":1}\r\n\r\nevent: error\ndata: line 1\ndata:line 2\n\ndata: x\r\rdata: [DONE]\n\n';
    expect(parseAll([text])).toEqual([
      { type: 'message', data: '{"a":1}', id: undefined },
      { type: 'error', data: 'line 1\nline 2', id: undefined },
      { type: 'message', data: 'x', id: undefined },
      { type: 'message', data: '[DONE]', id: undefined },
    ]);
  });

  test('a final event without its blank line is still dispatched at the end', () => {
    expect(parseAll(['data: last'])).toEqual([{ type: 'message', data: 'last', id: undefined }]);
  });

  test('any split of the stream into chunks gives the same events', () => {
    const text = 'data: {"content":"Hé"}\r\n\r\n: ping\n\ndata: a\ndata: b\r\n\r\ndata: [DONE]\r\n\r\n';
    const expected = parseAll([text]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: text.length }), { maxLength: 12 }), (cuts) => {
        const points = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: string[] = [];
        let last = 0;
        for (const point of points) {
          chunks.push(text.slice(last, point));
          last = point;
        }
        chunks.push(text.slice(last));
        expect(parseAll(chunks)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});
