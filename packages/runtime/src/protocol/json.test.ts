import { describe, expect, test } from 'vitest';
import { AtmosphereError } from '../errors.ts';
import { jsonDepth, parseUntrustedJson } from './json.ts';

describe('parseUntrustedJson', () => {
  test('parses ordinary JSON', () => {
    expect(parseUntrustedJson('{"a":[1,{"b":"c"}]}')).toEqual({ a: [1, { b: 'c' }] });
  });

  test('refuses deep nesting before parsing', () => {
    const deep = '['.repeat(100_000) + ']'.repeat(100_000);
    expect(() => parseUntrustedJson(deep)).toThrowError(/deeper than 64/);
    expect(parseUntrustedJson('['.repeat(64) + ']'.repeat(64))).toBeInstanceOf(Array);
  });

  test('brackets inside strings do not count', () => {
    expect(jsonDepth('{"a":"[[[[[[{{{{\\"[["}')).toBe(1);
  });

  test('removes prototype-polluting keys at any depth', () => {
    const value = parseUntrustedJson(
      '{"__proto__":{"polluted":1},"a":{"constructor":{"prototype":{"x":1}},"ok":2}}',
    ) as Record<string, unknown>;
    expect(Object.keys(value)).toEqual(['a']);
    expect(value['a']).toEqual({ ok: 2 });
    const merged = Object.assign({}, value);
    expect(merged['polluted']).toBeUndefined();
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  test('invalid JSON is an INVALID_JSON error', () => {
    try {
      parseUntrustedJson('{nope');
      expect.unreachable();
    } catch (error) {
      expect(AtmosphereError.isInstance(error) && error.code).toBe('INVALID_JSON');
    }
  });
});
