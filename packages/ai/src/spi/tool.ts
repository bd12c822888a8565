import type { JsonSchema, SchemaIssue } from './json-schema.ts';
import type { StreamingSession } from './streaming-session.ts';

/** What a tool's `execute` receives besides its arguments. */
export interface ToolContext {
  /** The model's id for this call. */
  readonly toolCallId: string;
  /** Aborted when the run is cancelled (the client left for good); pass it to anything long. */
  readonly signal: AbortSignal;
  /** The answer's session: a tool may report `progress` or emit events while it works. */
  readonly session: StreamingSession;
  /** The conversation the prompt belongs to. */
  readonly conversationId: string | undefined;
}

/**
 * A tool the model may call. Made by `tool()` from `@atmosphere/ai`; the endpoint (or any runtime through
 * `AgentContext.runTool`) validates arguments, asks for approval when required, runs it and reports events.
 */
export interface Tool<Args = unknown, Result = unknown> {
  readonly name: string;
  readonly description: string;
  /** The parameters as JSON Schema (what the model is shown). */
  readonly jsonSchema: JsonSchema;
  validate(value: unknown): Promise<{ ok: true; value: Args } | { ok: false; issues: SchemaIssue[] }>;
  execute(args: Args, context: ToolContext): Result | Promise<Result>;
  needsApproval(args: Args): Promise<boolean>;
  approvalMessage(args: Args): string;
}

/** A tool call as a model asked for it. `arguments` is the model's JSON text, or an already parsed object. */
export interface ToolCallRequest {
  readonly id: string;
  readonly name: string;
  readonly arguments: string | Record<string, unknown>;
}

/** What became of a tool call. `content` is what goes back to the model as the tool's result. */
export type ToolOutcome =
  | {
      readonly ok: true;
      readonly toolName: string;
      readonly toolCallId: string;
      readonly result: unknown;
      readonly content: string;
    }
  | {
      readonly ok: false;
      readonly toolName: string;
      readonly toolCallId: string;
      readonly error: string;
      readonly content: string;
    };
