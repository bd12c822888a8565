import { describe, expect, test } from 'vitest';
import { formatIssues, type JsonSchema, validateJsonSchema } from './json-schema.ts';

const schema: JsonSchema = {
  type: 'object',
  properties: {
    city: { type: 'string', minLength: 2, maxLength: 40 },
    days: { type: 'integer', minimum: 1, maximum: 14 },
    unit: { type: 'string', enum: ['celsius', 'fahrenheit'] },
    tags: { type: 'array', items: { type: 'string' }, minItems: 1, maxItems: 3 },
    exact: { type: ['number', 'null'] },
  },
  required: ['city'],
  additionalProperties: false,
};

describe('validateJsonSchema', () => {
  test('accepts a valid value', () => {
    expect(
      validateJsonSchema(schema, { city: 'Montreal', days: 3, unit: 'celsius', tags: ['a'], exact: null }),
    ).toEqual([]);
    expect(validateJsonSchema(schema, { city: 'Montreal', exact: 2.5 })).toEqual([]);
  });

  test.each([
    [{}, '$.city: is required'],
    [{ city: 3 }, '$.city: expected string, got number'],
    [{ city: 'M' }, '$.city: must be at least 2 characters'],
    [{ city: 'Montreal', days: 1.5 }, '$.days: expected integer, got number'],
    [{ city: 'Montreal', days: 30 }, '$.days: must be <= 14'],
    [{ city: 'Montreal', days: 0 }, '$.days: must be >= 1'],
    [{ city: 'Montreal', unit: 'kelvin' }, '$.unit: must be one of "celsius", "fahrenheit"'],
    [{ city: 'Montreal', tags: [] }, '$.tags: must have at least 1 items'],
    [{ city: 'Montreal', tags: ['a', 2] }, '$.tags[1]: expected string, got number'],
    [{ city: 'Montreal', extra: true }, '$.extra: is not allowed'],
    [{ city: 'Montreal', exact: 'x' }, '$.exact: expected number or null, got string'],
    [[], '$: expected object, got array'],
    [null, '$: expected object, got null'],
  ])('%j → %s', (value, message) => {
    expect(formatIssues(validateJsonSchema(schema, value))).toBe(message);
  });

  test('additionalProperties as a schema validates the extra members', () => {
    const map: JsonSchema = { type: 'object', additionalProperties: { type: 'number' } };
    expect(validateJsonSchema(map, { a: 1, b: 2 })).toEqual([]);
    expect(formatIssues(validateJsonSchema(map, { a: 'x' }))).toBe('$.a: expected number, got string');
  });

  test('counts string length in code points', () => {
    expect(validateJsonSchema({ type: 'string', maxLength: 2 }, '🚀🚀')).toEqual([]);
  });
});
