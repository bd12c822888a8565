import { AtmosphereError } from '@atmosphere/runtime';
import type { JsonSchema } from '../spi/json-schema.ts';
import type { Tool, ToolContext } from '../spi/tool.ts';
import { compileSchema, type SchemaInput, type SchemaOutput } from './schema.ts';

export type { Tool, ToolContext };

/** What {@link tool} takes. */
export interface ToolOptions<S extends SchemaInput, R> {
  /** `[A-Za-z0-9_-]{1,64}` (what chat-completion APIs accept). */
  readonly name: string;
  /** What the tool does, for the model. */
  readonly description: string;
  /** The arguments: a Standard Schema (zod 4…) or a JSON Schema object. Invalid arguments never reach `execute`. */
  readonly parameters: S;
  /** JSON Schema shown to the model, when `parameters` cannot produce it. */
  readonly jsonSchema?: JsonSchema;
  /**
   * Runs the tool. The result goes back to the model (strings as they are, anything else as JSON) and to the
   * client in a `tool-result` event; a throw becomes a `tool-error` event and an error result for the model.
   */
  execute(args: SchemaOutput<S>, context: ToolContext): R | Promise<R>;
  /**
   * Ask the user first: the client gets `approval-required` and answers `/__approval/<id>/approve|deny`. A
   * function decides per call.
   */
  readonly requiresApproval?: boolean | ((args: SchemaOutput<S>) => boolean | Promise<boolean>);
  /** The question shown to the user. Default: `Allow <name> with <arguments>?`. */
  readonly approvalMessage?: string | ((args: SchemaOutput<S>) => string);
}

const TOOL_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * Defines a tool. Throws `INVALID_OPTION` for a bad name or a schema that cannot be shown to the model.
 *
 * ```ts
 * const weather = tool({
 *   name: 'weather',
 *   description: 'Current weather of a city',
 *   parameters: z.object({ city: z.string() }),
 *   execute: async ({ city }) => ({ city, celsius: 21 }),
 * });
 * ```
 */
export function tool<S extends SchemaInput, R>(options: ToolOptions<S, R>): Tool<SchemaOutput<S>, R> {
  if (!TOOL_NAME.test(options.name)) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `Tool name ${JSON.stringify(options.name)} must match [A-Za-z0-9_-]{1,64}.`,
    );
  }
  if (typeof options.execute !== 'function') {
    throw new AtmosphereError('INVALID_OPTION', `Tool ${options.name}: \`execute\` must be a function.`);
  }
  const compiled = compileSchema<SchemaOutput<S>>(
    options.parameters,
    `Tool ${options.name}`,
    options.jsonSchema,
  );
  const requires = options.requiresApproval ?? false;
  const message = options.approvalMessage;
  return {
    name: options.name,
    description: options.description,
    jsonSchema: compiled.jsonSchema,
    validate: (value) => compiled.validate(value),
    execute: (args, context) => options.execute(args, context),
    async needsApproval(args) {
      return typeof requires === 'function' ? Boolean(await requires(args)) : requires;
    },
    approvalMessage(args) {
      if (typeof message === 'function') return message(args);
      if (typeof message === 'string') return message;
      return `Allow ${options.name} with ${JSON.stringify(args)}?`;
    },
  };
}
