import { AtmosphereError } from '@atmosphere/runtime';
import { aiError } from '../errors.ts';
import type { StructuredOutputRequest } from '../spi/agent-runtime.ts';
import type { StreamingSession } from '../streaming/streaming-session.ts';
import type { JsonSchema } from '../tools/json-schema.ts';
import { type CompiledSchema, compileSchema, formatIssues, type SchemaInput } from '../tools/schema.ts';
import { JsonFieldScanner } from './json-field-scanner.ts';

/** Asks for a JSON answer: `aiEndpoint({ structuredOutput: { name: 'Weather', schema: z.object({…}) } })`. */
export interface StructuredOutputOptions {
  /** The entity's type name (`entity-start`, `entity-complete`; the provider's schema name). Default `Output`. */
  readonly name?: string;
  /** A Standard Schema (zod 4…) or a JSON Schema object; the answer is validated against it. */
  readonly schema: SchemaInput;
  /** JSON Schema shown to the model, when `schema` cannot produce it. */
  readonly jsonSchema?: JsonSchema;
}

/** A structured-output request made ready (compiled once, reused for every prompt). */
export interface StructuredOutput {
  readonly request: StructuredOutputRequest;
  readonly schema: CompiledSchema;
}

const NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** Compiles structured-output options. Throws `INVALID_OPTION` for a bad name or schema. */
export function structuredOutput(options: StructuredOutputOptions): StructuredOutput {
  const name = options.name ?? 'Output';
  if (!NAME.test(name))
    throw new AtmosphereError(
      'INVALID_OPTION',
      `Structured output name ${JSON.stringify(name)} must match [A-Za-z0-9_-]{1,64}.`,
    );
  const schema = compileSchema(options.schema, `Structured output ${name}`, options.jsonSchema);
  return { request: { name, jsonSchema: schema.jsonSchema }, schema };
}

/** The instruction added to the system prompt, so that models without a JSON mode answer in JSON too. */
export function structuredInstruction(request: StructuredOutputRequest): string {
  return `Answer with a single JSON object that matches this JSON Schema, and nothing else (no prose, no code fences): ${JSON.stringify(request.jsonSchema)}`;
}

/**
 * Watches an answer's text as it streams and reports the entity: `entity-start` first, a `structured-field`
 * event per top-level field as soon as its value is complete, and — on `finish()` — the validated
 * `entity-complete`, or an error (`STRUCTURED_OUTPUT_INVALID`) when the answer is not valid JSON or does not
 * match the schema.
 */
export class StructuredCapture {
  readonly #output: StructuredOutput;
  readonly #session: StreamingSession;
  readonly #scanner = new JsonFieldScanner();
  #started = false;

  constructor(output: StructuredOutput, session: StreamingSession) {
    this.#output = output;
    this.#session = session;
  }

  /** Feeds answer text. */
  push(text: string): void {
    if (!this.#started) {
      this.#started = true;
      this.#session.emit({
        event: 'entity-start',
        data: { typeName: this.#output.request.name, jsonSchema: this.#output.request.jsonSchema },
      });
    }
    for (const field of this.#scanner.push(text)) {
      let value: unknown;
      try {
        value = JSON.parse(field.raw);
      } catch {
        continue; // reported as a whole by finish()
      }
      const declared = this.#output.request.jsonSchema.properties?.[field.name]?.type;
      const schemaType = typeof declared === 'string' ? declared : jsonType(value);
      this.#session.emit({ event: 'structured-field', data: { fieldName: field.name, value, schemaType } });
    }
  }

  /** Validates the whole answer; emits `entity-complete` and returns the entity, or throws. */
  async finish(): Promise<unknown> {
    const text = this.#scanner.objectText;
    if (text === undefined) {
      throw aiError(
        'STRUCTURED_OUTPUT_INVALID',
        `The model's answer is not a complete JSON object for ${this.#output.request.name}.`,
      );
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch (error) {
      throw aiError(
        'STRUCTURED_OUTPUT_INVALID',
        `The model's answer is not valid JSON: ${(error as Error).message}`,
        { cause: error },
      );
    }
    const checked = await this.#output.schema.validate(value);
    if (!checked.ok) {
      throw aiError(
        'STRUCTURED_OUTPUT_INVALID',
        `The model's answer does not match the ${this.#output.request.name} schema: ${formatIssues(checked.issues)}.`,
      );
    }
    this.#session.emit({
      event: 'entity-complete',
      data: { typeName: this.#output.request.name, entity: checked.value },
    });
    return checked.value;
  }
}

function jsonType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
