import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { sseEvent, SseParser, sseNormalize } from '../src/index.ts';

function parseAll(chunks: string[]): [string, string][] {
  const parser = new SseParser();
  const events: [string, string][] = [];
  for (const chunk of chunks) for (const event of parser.push(chunk)) events.push([event.type, event.data]);
  return events;
}

describe('SseParser', () => {
  test('the runtime format: padding line, data: lines with CRLF, multi-line payloads, error events', () => {
    const stream =
      ' '.repeat(2000) +
      '\n' +
      'data:5|hello\r\n\r\n' +
      'data:3|a\r\ndata:b\r\n\r\n' +
      'data:  two spaces\r\n\r\n' +
      'event:error\ndata:1001 bye\n\n';
    expect(parseAll([stream])).toEqual([
      ['message', '5|hello'],
      ['message', '3|a\nb'],
      ['message', ' two spaces'],
      ['error', '1001 bye'],
    ]);
  });

  test('comments, unknown fields and fields without a colon are ignored', () => {
    expect(parseAll([': comment\nid: 7\nretry: 10\nfoo\ndata\n\n'])).toEqual([['message', '']]);
  });

  test('property: any chunking (including between CR and LF) gives the same events', () => {
    const text =
      ' '.repeat(30) + '\ndata:5|hello\r\n\r\ndata:x\rdata:y\r\rdata:z\n\nevent:error\r\ndata:1 e\r\n\r\n';
    const expected = parseAll([text]);
    expect(expected).toEqual([
      ['message', '5|hello'],
      ['message', 'x\ny'],
      ['message', 'z'],
      ['error', '1 e'],
    ]);
    fc.assert(
      fc.property(fc.array(fc.nat({ max: text.length }), { maxLength: 20 }), (cuts) => {
        const positions = [...new Set(cuts)].sort((a, b) => a - b);
        const chunks: string[] = [];
        let start = 0;
        for (const position of [...positions, text.length]) {
          chunks.push(text.slice(start, position));
          start = position;
        }
        expect(parseAll(chunks)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });
});

describe('sseEvent ↔ SseParser (property)', () => {
  test('any text the server writes as an event reads back as that text, newlines normalised, any chunking', () => {
    fc.assert(
      fc.property(
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 10 }),
        (messages, cuts) => {
          const stream = ' '.repeat(20) + '\n' + messages.map((m) => sseEvent(m)).join('');
          const positions = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const parser = new SseParser();
          const events: string[] = [];
          let start = 0;
          for (const position of [...positions, stream.length]) {
            for (const event of parser.push(stream.slice(start, position))) events.push(event.data);
            start = position;
          }
          expect(events).toEqual(messages.map((m) => sseNormalize(m)));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('end() dispatches a last event without its blank line; id: fields are kept', () => {
    const parser = new SseParser();
    expect(parser.push('id: 7\ndata: one\n\ndata: two')).toEqual([{ type: 'message', data: 'one', id: '7' }]);
    expect(parser.end()).toEqual([{ type: 'message', data: 'two', id: '7' }]);
  });
});
