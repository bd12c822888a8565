import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { jsonDepth, parseUntrustedJson, ProtocolError } from '../src/index.ts';

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
      expect(ProtocolError.isInstance(error) && error.code).toBe('INVALID_JSON');
    }
  });
});

describe('parseUntrustedJson against hostile keys (property)', () => {
  const DANGEROUS = ['__proto__', 'constructor', 'prototype'];

  /** Spells a key in JSON with a random mix of literal characters and escapes. */
  function spell(key: string, choices: readonly number[]): string {
    let out = '"';
    for (let i = 0; i < key.length; i++) {
      const code = key.charCodeAt(i);
      switch ((choices[i] ?? 0) % 3) {
        case 0:
          out += key[i];
          break;
        case 1:
          out += `\\u${code.toString(16).padStart(4, '0')}`;
          break;
        default:
          out += `\\u${code.toString(16).toUpperCase().padStart(4, '0')}`;
      }
    }
    return `${out}"`;
  }

  function hasDangerousOwnKey(value: unknown): boolean {
    if (typeof value !== 'object' || value === null) return false;
    if (Array.isArray(value)) return value.some(hasDangerousOwnKey);
    for (const key of Object.keys(value)) {
      if (DANGEROUS.includes(key)) return true;
      if (hasDangerousOwnKey((value as Record<string, unknown>)[key])) return true;
    }
    return false;
  }

  function deepMerge(target: Record<string, unknown>, source: unknown): void {
    if (typeof source !== 'object' || source === null) return;
    for (const key of Object.keys(source)) {
      const value = (source as Record<string, unknown>)[key];
      if (typeof value === 'object' && value !== null) {
        if (typeof target[key] !== 'object' || target[key] === null) target[key] = {};
        deepMerge(target[key] as Record<string, unknown>, value);
      } else target[key] = value;
    }
  }

  test('no dangerous key, however escaped and however deep, reaches the application; Object.prototype stays clean', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...DANGEROUS),
        fc.array(fc.nat({ max: 2 }), { minLength: 12, maxLength: 12 }),
        fc.integer({ min: 0, max: 20 }),
        fc.boolean(),
        (key, choices, depth, inArray) => {
          let json = `{${spell(key, choices)}:{"polluted":true,"prototype":{"polluted":true}},"ok":1}`;
          for (let i = 0; i < depth; i++) json = inArray && i % 2 ? `[${json}]` : `{"k${i}":${json}}`;
          const value = parseUntrustedJson(json);
          expect(hasDangerousOwnKey(value)).toBe(false);
          deepMerge({}, value);
          expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
          expect(Object.prototype).not.toHaveProperty('polluted');
        },
      ),
      { numRuns: 500 },
    );
  });

  test('ordinary JSON without escapes or such names comes back unchanged', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        if (text.includes('\\') || DANGEROUS.some((k) => text.includes(k))) return;
        expect(parseUntrustedJson(text, 1_000)).toEqual(JSON.parse(text));
      }),
    );
  });
});
