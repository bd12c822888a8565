import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { JsonFieldScanner } from './json-field-scanner.ts';

function scan(chunks: readonly string[]) {
  const scanner = new JsonFieldScanner();
  const fields = chunks.flatMap((chunk) => scanner.push(chunk));
  return { fields, scanner };
}

describe('JsonFieldScanner', () => {
  test('reports each top-level field when its value is complete', () => {
    const scanner = new JsonFieldScanner();
    expect(scanner.push('```json\n{"city": "Mont')).toEqual([]);
    expect(scanner.push('real", "celsius"')).toEqual([{ name: 'city', raw: '"Montreal"' }]);
    expect(scanner.push(': 21, "tags": ["a,b", {"x": "}"}]')).toEqual([{ name: 'celsius', raw: '21' }]);
    expect(scanner.push('}\n```')).toEqual([{ name: 'tags', raw: '["a,b", {"x": "}"}]' }]);
    expect(scanner.done).toBe(true);
    expect(JSON.parse(scanner.objectText!)).toEqual({
      city: 'Montreal',
      celsius: 21,
      tags: ['a,b', { x: '}' }],
    });
  });

  test('escaped quotes and keys', () => {
    const { fields } = scan(['{"say \\"hi\\"": "a \\" b", "n": null}']);
    expect(fields).toEqual([
      { name: 'say "hi"', raw: '"a \\" b"' },
      { name: 'n', raw: 'null' },
    ]);
  });

  test('any chunking of a JSON object yields its fields in order', () => {
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 3 }), { maxKeys: 5 }),
        fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1, maxLength: 40 }),
        (object, sizes) => {
          const text = JSON.stringify(object);
          const chunks: string[] = [];
          let at = 0;
          for (let i = 0; at < text.length; i++) {
            const size = sizes[i % sizes.length]!;
            chunks.push(text.slice(at, at + size));
            at += size;
          }
          const { fields, scanner } = scan(chunks);
          expect(scanner.done).toBe(true);
          const expected = Object.entries(JSON.parse(text) as Record<string, unknown>);
          expect(fields.map((f) => [f.name, JSON.parse(f.raw) as unknown])).toEqual(expected);
        },
      ),
      { numRuns: 200 },
    );
  });
});
