import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { FrameParser, ProtocolError } from '../src/index.ts';

const frame = (message: string): string => `${message.length}|${message}`;

/** Feeds `text` cut at the given positions; returns every message completed. */
function feed(parser: FrameParser, text: string, cuts: readonly number[]): string[] {
  const positions = [...new Set(cuts.map((cut) => cut % (text.length + 1)))].sort((a, b) => a - b);
  const out: string[] = [];
  let start = 0;
  for (const position of [...positions, text.length]) {
    out.push(...parser.push(text.slice(start, position)));
    start = position;
  }
  return out;
}

const message = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom('12|34', '|', '5|hello', '{"a":"b|c"}', 'X', '  leading spaces', '日本語', '😀😀'),
  fc.string({ maxLength: 400 }),
);
const padding = fc.constantFrom('', ' ', '\n', '\r\n', ' '.repeat(2048) + '\n');

describe('FrameParser', () => {
  test('several messages in one chunk', () => {
    const parser = new FrameParser(1000);
    expect(parser.push('5|hello6|world!')).toEqual(['hello', 'world!']);
    expect(parser.pending).toBe('');
  });

  test('a split inside the length prefix ("12" then "4|…")', () => {
    const parser = new FrameParser(1000);
    const body = 'x'.repeat(124);
    expect(parser.push('12')).toEqual([]);
    expect(parser.pending).toBe('12');
    expect(parser.push(`4|${body.slice(0, 10)}`)).toEqual([]);
    expect(parser.push(body.slice(10))).toEqual([body]);
  });

  test('lengths count UTF-16 code units, like String#length', () => {
    const parser = new FrameParser(1000);
    expect(parser.push(`${'😀é'.length}|😀é2|ok`)).toEqual(['😀é', 'ok']);
  });

  test('every two-chunk and three-chunk split of a stream gives the same messages', () => {
    const messages = ['hello', '', '1|2', '😀', 'x'.repeat(12)];
    const stream = ' '.repeat(5) + '\n' + messages.map(frame).join('');
    for (let i = 0; i <= stream.length; i++) {
      for (let j = i; j <= stream.length; j++) {
        expect(feed(new FrameParser(1000), stream, [i, j])).toEqual(messages);
      }
    }
  });

  test('property: any messages, any padding between them, any chunking → the same messages, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(padding, message), { maxLength: 25 }),
        fc.array(fc.nat(), { maxLength: 40 }),
        (items, cuts) => {
          const stream = items.map(([pad, text]) => pad + frame(text)).join('');
          expect(feed(new FrameParser(10_000), stream, cuts)).toEqual(items.map(([, text]) => text));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('property: one character per chunk works too (every split inside every prefix)', () => {
    fc.assert(
      fc.property(fc.array(message, { maxLength: 12 }), (messages) => {
        const stream = messages.map(frame).join('');
        const parser = new FrameParser(10_000);
        const out: string[] = [];
        for (const char of stream.split('')) out.push(...parser.push(char));
        expect(out).toEqual(messages);
      }),
      { numRuns: 200 },
    );
  });

  test('a chunk that is not a frame throws PROTOCOL_ERROR, and the parser stays failed until reset', () => {
    const parser = new FrameParser(1000);
    expect(() => parser.push('hello world')).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_ERROR' }) as Error,
    );
    expect(() => parser.push('5|hello')).toThrow(/reset it first/);
    parser.reset();
    expect(parser.push('5|hello')).toEqual(['hello']);
  });

  test('a wrong length prefix surfaces at the next frame, it never produces a bogus message silently', () => {
    const parser = new FrameParser(1000);
    // The prefix says 3 but the message is 5 long: "hel" is taken, then "lo6|world!" is no frame.
    let error: unknown;
    const out: string[] = [];
    try {
      out.push(...parser.push('3|hello6|world!'));
    } catch (caught) {
      error = caught;
    }
    expect(out).toEqual([]);
    expect(ProtocolError.isInstance(error) && error.code).toBe('PROTOCOL_ERROR');
  });

  test('an announced length past maxMessageSize throws MESSAGE_TOO_LARGE before buffering it', () => {
    const parser = new FrameParser(100);
    expect(() => parser.push('101|')).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }) as Error,
    );
    expect(new FrameParser(100).push(frame('y'.repeat(100)))).toEqual(['y'.repeat(100)]);
  });

  test('a prefix longer than 10 digits is refused even before its `|` arrives', () => {
    expect(() => new FrameParser(1000).push('12345678901')).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_ERROR' }) as Error,
    );
    expect(() => new FrameParser(1000).push('|abc')).toThrow(/no `<length>\|` prefix/);
  });

  test('property: garbage either parses or throws PROTOCOL_ERROR/MESSAGE_TOO_LARGE — never anything else', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ maxLength: 30 }), { maxLength: 10 }), (chunks) => {
        const parser = new FrameParser(50);
        try {
          for (const chunk of chunks) parser.push(chunk);
        } catch (error) {
          expect(ProtocolError.isInstance(error)).toBe(true);
          expect(['PROTOCOL_ERROR', 'MESSAGE_TOO_LARGE']).toContain((error as ProtocolError).code);
        }
      }),
      { numRuns: 500 },
    );
  });

  test('a long message in many chunks is assembled once complete', () => {
    const body = 'z'.repeat(200_000);
    const parser = new FrameParser(1_000_000);
    const stream = frame(body) + frame('next');
    const out: string[] = [];
    for (let i = 0; i < stream.length; i += 1000) out.push(...parser.push(stream.slice(i, i + 1000)));
    expect(out).toEqual([body, 'next']);
  });
});
