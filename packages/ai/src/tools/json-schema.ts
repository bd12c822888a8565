import type { JsonSchema, JsonSchemaType, SchemaIssue } from '../spi/json-schema.ts';

export type { JsonSchema, JsonSchemaType, SchemaIssue };

function typeOf(value: unknown): JsonSchemaType | 'undefined' | 'other' {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  switch (typeof value) {
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(value) ? 'integer' : 'number';
    case 'boolean':
      return 'boolean';
    case 'object':
      return 'object';
    case 'undefined':
      return 'undefined';
    default:
      return 'other';
  }
}

function matchesType(actual: ReturnType<typeof typeOf>, expected: JsonSchemaType): boolean {
  return actual === expected || (expected === 'number' && actual === 'integer');
}

const MAX_ISSUES = 20;

/**
 * Validates a value against the common subset of JSON Schema: `type` (one or several), `properties`,
 * `required`, `additionalProperties` (false or a schema), `enum`, `items`, `minimum`/`maximum`,
 * `minLength`/`maxLength`, `minItems`/`maxItems`. Returns the issues found (empty = valid), at most 20.
 */
export function validateJsonSchema(schema: JsonSchema, value: unknown): SchemaIssue[] {
  const issues: SchemaIssue[] = [];
  check(schema, value, '$', issues, 0);
  return issues;
}

function check(schema: JsonSchema, value: unknown, path: string, issues: SchemaIssue[], depth: number): void {
  if (issues.length >= MAX_ISSUES) return;
  if (depth > 64) {
    issues.push({ path, message: 'nested too deeply' });
    return;
  }
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as readonly JsonSchemaType[];
    if (!types.some((t) => matchesType(actual, t))) {
      issues.push({
        path,
        message: `expected ${types.join(' or ')}, got ${actual === 'integer' ? 'number' : actual}`,
      });
      return;
    }
  }
  if (schema.enum !== undefined && !schema.enum.some((option) => deepEqual(option, value))) {
    issues.push({ path, message: `must be one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}` });
  }
  if (actual === 'number' || actual === 'integer') {
    const n = value as number;
    if (schema.minimum !== undefined && n < schema.minimum)
      issues.push({ path, message: `must be >= ${schema.minimum}` });
    if (schema.maximum !== undefined && n > schema.maximum)
      issues.push({ path, message: `must be <= ${schema.maximum}` });
  } else if (actual === 'string') {
    // Length in code points, as JSON Schema counts characters.
    const length = [...(value as string)].length;
    if (schema.minLength !== undefined && length < schema.minLength) {
      issues.push({ path, message: `must be at least ${schema.minLength} characters` });
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      issues.push({ path, message: `must be at most ${schema.maxLength} characters` });
    }
  } else if (actual === 'array') {
    const items = value as unknown[];
    if (schema.minItems !== undefined && items.length < schema.minItems)
      issues.push({ path, message: `must have at least ${schema.minItems} items` });
    if (schema.maxItems !== undefined && items.length > schema.maxItems)
      issues.push({ path, message: `must have at most ${schema.maxItems} items` });
    if (schema.items !== undefined) {
      for (let i = 0; i < items.length; i++)
        check(schema.items, items[i], `${path}[${i}]`, issues, depth + 1);
    }
  } else if (actual === 'object') {
    const record = value as Record<string, unknown>;
    for (const name of schema.required ?? []) {
      if (!Object.hasOwn(record, name) || record[name] === undefined)
        issues.push({ path: `${path}.${name}`, message: 'is required' });
    }
    const properties = schema.properties ?? {};
    for (const [name, item] of Object.entries(record)) {
      const propertySchema = Object.hasOwn(properties, name) ? properties[name] : undefined;
      if (propertySchema !== undefined) check(propertySchema, item, `${path}.${name}`, issues, depth + 1);
      else if (schema.additionalProperties === false)
        issues.push({ path: `${path}.${name}`, message: 'is not allowed' });
      else if (typeof schema.additionalProperties === 'object')
        check(schema.additionalProperties, item, `${path}.${name}`, issues, depth + 1);
    }
  }
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  const keysA = Object.keys(a);
  const keysB = Object.keys(b);
  if (keysA.length !== keysB.length) return false;
  return keysA.every((key) =>
    deepEqual((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key]),
  );
}

/** `$.city: is required; $.days: must be <= 14` */
export function formatIssues(issues: readonly SchemaIssue[]): string {
  return issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
}
