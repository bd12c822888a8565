import type { StandardJSONSchemaV1, StandardSchemaV1 } from '@standard-schema/spec';
import { AtmosphereError } from '@atmosphere/runtime';
import { formatIssues, type JsonSchema, type SchemaIssue, validateJsonSchema } from './json-schema.ts';

/**
 * A schema for tool parameters or structured output: a Standard Schema (zod 4, valibot, arktype…) or a plain
 * JSON Schema object. The model is shown JSON Schema; a Standard Schema must therefore also implement Standard
 * JSON Schema (zod 4 does), or be given with an explicit `jsonSchema`.
 */
export type SchemaInput = StandardSchemaV1 | JsonSchema;

/** The value type a schema produces: the Standard Schema's output, or a plain record for JSON Schema. */
export type SchemaOutput<S> = S extends StandardSchemaV1<unknown, infer O> ? O : Record<string, unknown>;

export function isStandardSchema(value: unknown): value is StandardSchemaV1 {
  if (typeof value !== 'object' && typeof value !== 'function') return false;
  if (value === null) return false;
  const standard = (value as { '~standard'?: { validate?: unknown; version?: unknown } })['~standard'];
  return typeof standard === 'object' && standard !== null && typeof standard.validate === 'function';
}

function hasJsonSchemaConverter(value: StandardSchemaV1): value is StandardSchemaV1 & StandardJSONSchemaV1 {
  const standard = value['~standard'] as { jsonSchema?: { input?: unknown } };
  return typeof standard.jsonSchema?.input === 'function';
}

/** A schema made ready: JSON Schema for the model, and a validator. */
export interface CompiledSchema<T = unknown> {
  readonly jsonSchema: JsonSchema;
  validate(value: unknown): Promise<{ ok: true; value: T } | { ok: false; issues: SchemaIssue[] }>;
}

/**
 * Compiles a schema. Throws `INVALID_OPTION` when a Standard Schema cannot be turned into JSON Schema and no
 * `jsonSchema` was given (`what` names the tool or output in the message).
 */
export function compileSchema<T>(
  schema: SchemaInput,
  what: string,
  jsonSchema?: JsonSchema,
): CompiledSchema<T> {
  if (isStandardSchema(schema)) {
    let json = jsonSchema;
    if (json === undefined) {
      if (!hasJsonSchemaConverter(schema)) {
        throw new AtmosphereError(
          'INVALID_OPTION',
          `${what}: the schema (${schema['~standard'].vendor}) cannot produce JSON Schema for the model; pass \`jsonSchema\` as well, or use a library that implements Standard JSON Schema (zod 4).`,
        );
      }
      json = stripMeta(schema['~standard'].jsonSchema.input({ target: 'draft-2020-12' }));
    }
    return {
      jsonSchema: json,
      async validate(value) {
        const result = await schema['~standard'].validate(value);
        if (result.issues === undefined) return { ok: true, value: result.value as T };
        return {
          ok: false,
          issues: result.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message })),
        };
      },
    };
  }
  const json = jsonSchema ?? schema;
  return {
    jsonSchema: json,
    async validate(value) {
      const issues = validateJsonSchema(json, value);
      return issues.length === 0 ? { ok: true, value: value as T } : { ok: false, issues };
    },
  };
}

function stripMeta(schema: Record<string, unknown>): JsonSchema {
  const { $schema: _ignored, ...rest } = schema;
  return rest;
}

function issuePath(path: StandardSchemaV1.Issue['path']): string {
  let out = '$';
  for (const segment of path ?? []) {
    const key = typeof segment === 'object' ? segment.key : segment;
    out += typeof key === 'number' ? `[${key}]` : `.${String(key)}`;
  }
  return out;
}

export { formatIssues };
