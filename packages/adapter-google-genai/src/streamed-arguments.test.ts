import { LlmError } from '@atmosphere/ai/spi';
import type { PartialArg } from '@google/genai';
import { describe, expect, test } from 'vitest';
import { pathSegments, StreamedArguments } from './streamed-arguments.ts';

/** Every piece's text, then the closing text; and the arguments they make. */
function assemble(pieces: PartialArg[]): { deltas: string[]; text: string } {
  const args = new StreamedArguments();
  const deltas = pieces.map((piece) => args.push(piece));
  deltas.push(args.end());
  expect(deltas.join('')).toBe(args.text);
  return { deltas, text: args.text };
}

describe('streamed function-call arguments (Vertex partialArgs)', () => {
  test('a string cut in pieces, then a number, a boolean and null: the deltas joined are the JSON', () => {
    const { deltas, text } = assemble([
      { jsonPath: '$.city', stringValue: 'Mont', willContinue: true },
      { jsonPath: '$.city', stringValue: 'ré"al\n', willContinue: true },
      { jsonPath: '$.city', stringValue: '' },
      { jsonPath: '$.days', numberValue: 2.5 },
      { jsonPath: '$.metric', boolValue: false },
      { jsonPath: '$.note', nullValue: 'NULL_VALUE' },
    ]);
    expect(text).toBe(JSON.stringify({ city: 'Mont' + 'ré"al\n', days: 2.5, metric: false, note: null }));
    expect(deltas).toEqual([
      '{"city":"Mont',
      'ré\\"al\\n',
      '"',
      ',"days":2.5',
      ',"metric":false',
      ',"note":null',
      '}',
    ]);
  });

  test('nested objects and arrays open and close as the paths move', () => {
    const { text } = assemble([
      { jsonPath: '$.trip.stops[0].name', stringValue: 'Lyon' },
      { jsonPath: '$.trip.stops[0].nights', numberValue: 2 },
      { jsonPath: '$.trip.stops[1].name', stringValue: 'Nice', willContinue: true },
      { jsonPath: '$.trip.stops[1].name', stringValue: ' Côte' },
      { jsonPath: '$.trip.tags[0]', stringValue: 'sea' },
      { jsonPath: '$.trip.tags[1]', stringValue: 'sun', willContinue: true },
      { jsonPath: "$['party size']", numberValue: 3 },
    ]);
    expect(JSON.parse(text)).toEqual({
      trip: { stops: [{ name: 'Lyon', nights: 2 }, { name: 'Nice Côte' }], tags: ['sea', 'sun'] },
      'party size': 3,
    });
    expect(text).toBe(JSON.stringify(JSON.parse(text)));
  });

  test('a call without arguments is {}', () => {
    expect(assemble([]).text).toBe('{}');
  });

  test('paths: members, indexes, quoted names with escapes; anything else is unreadable', () => {
    expect(pathSegments('$.a.b_1[0][12]')).toEqual(['a', 'b_1', 0, 12]);
    expect(pathSegments(`$['it''s'].x`)).toBeUndefined();
    expect(pathSegments(`$['a \\'b\\'']["c\\"d"]["\\u00e9"]`)).toEqual(["a 'b'", 'c"d', 'é']);
    for (const path of ['city', '$.', '$[x]', '$..a', '$.a[*]']) expect(pathSegments(path)).toBeUndefined();
  });

  test('an unreadable path or one that mixes an array and an object is an LlmError naming it', () => {
    expect(() => new StreamedArguments().push({ jsonPath: 'city', stringValue: 'x' })).toThrow(LlmError);
    expect(() => new StreamedArguments().push({ stringValue: 'x' })).toThrow(/cannot be assembled/);
    const args = new StreamedArguments();
    args.push({ jsonPath: '$.list[0]', numberValue: 1 });
    expect(() => args.push({ jsonPath: '$.list.name', stringValue: 'x' })).toThrow(/"\$\.list\.name"/);
  });
});
