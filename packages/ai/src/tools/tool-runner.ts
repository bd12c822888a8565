import { type Logger, silentLogger } from '@atmosphere/runtime';
import type { StreamingSession } from '../spi/streaming-session.ts';
import type { Tool, ToolCallRequest, ToolOutcome } from '../spi/tool.ts';
import type { AiTelemetry } from '../telemetry/ai-telemetry.ts';
import type { ApprovalDecision, ApprovalRegistry, MayAnswer } from './approvals.ts';
import { formatIssues } from './json-schema.ts';

export type { ToolCallRequest, ToolOutcome };

export interface ToolRunnerOptions {
  readonly tools: readonly Tool[];
  /** Where `tool-*` and `approval-required` events go. */
  readonly session: StreamingSession;
  /** Pending approvals; without it, a tool that needs approval is refused. */
  readonly approvals?: ApprovalRegistry;
  /** Who may answer this run's approvals (tracking ids). Default: anyone who knows the id. */
  readonly mayAnswer?: MayAnswer;
  readonly approvalTimeoutMs?: number;
  readonly conversationId?: string;
  readonly logger?: Logger;
  /** Where tool calls are counted and traced; absent = nowhere. */
  readonly telemetry?: AiTelemetry;
}

const DECISION_TEXT: Record<Exclude<ApprovalDecision, { approved: true }>['reason'], string> = {
  denied: 'The user denied this tool call.',
  malformed: 'The approval answer was malformed, so the call was denied.',
  timeout: 'Nobody approved this tool call in time, so it was denied.',
  cancelled: 'The run was cancelled before the tool call was approved.',
};

/**
 * Runs the tools a model asks for, the same way for every runtime: parses and validates the arguments, asks
 * the user when the tool requires approval, executes it, and reports `tool-start`, `tool-result` /
 * `tool-error` (and `approval-required`) events. Never throws: every failure becomes an error outcome whose
 * `content` tells the model what went wrong, so it can correct itself.
 */
export class ToolRunner {
  readonly tools: readonly Tool[];
  readonly #byName: ReadonlyMap<string, Tool>;
  readonly #options: ToolRunnerOptions;
  readonly #logger: Logger;

  constructor(options: ToolRunnerOptions) {
    this.tools = options.tools;
    this.#byName = new Map(options.tools.map((t) => [t.name, t]));
    this.#options = options;
    this.#logger = options.logger ?? silentLogger;
  }

  /** Runs one call; `signal` cancels a pending approval and is passed to the tool. */
  async run(call: ToolCallRequest, signal: AbortSignal = this.#options.session.signal): Promise<ToolOutcome> {
    const session = this.#options.session;
    const tool = this.#byName.get(call.name);
    if (!tool) {
      const known = [...this.#byName.keys()].join(', ') || 'none';
      return this.#fail(call, `Unknown tool "${call.name}". Available tools: ${known}.`);
    }
    let raw: unknown = call.arguments;
    if (typeof raw === 'string') {
      try {
        raw = raw.trim() === '' ? {} : JSON.parse(raw);
      } catch (error) {
        return this.#fail(call, `The arguments are not valid JSON (${(error as Error).message}).`);
      }
    }
    let checked = await tool.validate(raw);
    if (!checked.ok) return this.#fail(call, `Invalid arguments: ${formatIssues(checked.issues)}.`);
    let args = checked.value;
    if (await tool.needsApproval(args)) {
      const approvals = this.#options.approvals;
      if (!approvals)
        return this.#fail(call, `Tool ${tool.name} requires approval, but this run cannot ask for one.`);
      const opened = approvals.request({
        mayAnswer: this.#options.mayAnswer ?? (() => true),
        signal,
        ...(this.#options.approvalTimeoutMs === undefined
          ? {}
          : { timeoutMs: this.#options.approvalTimeoutMs }),
      });
      session.emit({
        event: 'approval-required',
        data: {
          approvalId: opened.approvalId,
          toolName: tool.name,
          arguments: asRecord(args),
          message: tool.approvalMessage(args),
          expiresIn: opened.expiresInSeconds,
          toolCallId: call.id,
        },
      });
      const decision = await opened.decision;
      // The decision is a frame of the run too: a replay (a reload, another tab) does not ask again.
      session.emit({
        event: 'approval-answered',
        data: {
          approvalId: opened.approvalId,
          approved: decision.approved,
          ...(decision.approved ? {} : { reason: decision.reason }),
          toolCallId: call.id,
        },
      });
      if (!decision.approved) return this.#fail(call, DECISION_TEXT[decision.reason]);
      if (decision.arguments !== undefined) {
        checked = await tool.validate(decision.arguments);
        if (!checked.ok)
          return this.#fail(call, `The edited arguments are invalid: ${formatIssues(checked.issues)}.`);
        args = checked.value;
      }
    }
    if (signal.aborted) return this.#fail(call, 'The run was cancelled.');
    session.emit({
      event: 'tool-start',
      data: { toolName: tool.name, arguments: asRecord(args), toolCallId: call.id },
    });
    let result: unknown;
    const measure = this.#options.telemetry?.startTool(tool.name, call.id);
    try {
      const context = { toolCallId: call.id, signal, session, conversationId: this.#options.conversationId };
      result = await (measure === undefined
        ? tool.execute(args, context)
        : measure.within(() => tool.execute(args, context)));
      measure?.end();
    } catch (error) {
      measure?.end(error);
      this.#logger.debug(`tool ${tool.name} failed`, { error });
      return this.#fail(
        call,
        `Tool ${tool.name} failed: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    session.emit({
      event: 'tool-result',
      data: { toolName: tool.name, result: result ?? null, toolCallId: call.id },
    });
    return { ok: true, toolName: tool.name, toolCallId: call.id, result, content: toContent(result) };
  }

  #fail(call: ToolCallRequest, error: string): ToolOutcome {
    this.#options.session.emit({
      event: 'tool-error',
      data: { toolName: call.name, error, toolCallId: call.id },
    });
    return { ok: false, toolName: call.name, toolCallId: call.id, error, content: JSON.stringify({ error }) };
  }
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

function toContent(result: unknown): string {
  if (typeof result === 'string') return result;
  if (result === undefined) return 'null';
  try {
    return JSON.stringify(result) ?? 'null';
  } catch (error) {
    return JSON.stringify({
      error: `The tool's result could not be encoded as JSON: ${(error as Error).message}`,
    });
  }
}
