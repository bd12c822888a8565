import type { Logger } from '@atmosphere/runtime';
import type {
  AgentContext,
  AgentRetryPolicy,
  AgentSteering,
  PromptCacheHint,
  StructuredOutputRequest,
} from '../spi/agent-runtime.ts';
import type { ChatMessage, ChatPart } from '../spi/chat.ts';
import type { StreamingSession } from '../streaming/streaming-session.ts';
import type { ApprovalRegistry, MayAnswer } from '../tools/approvals.ts';
import type { Tool } from '../tools/tool.ts';
import type { AiTelemetry } from '../telemetry/ai-telemetry.ts';
import { ToolRunner } from '../tools/tool-runner.ts';

/** What {@link createAgentContext} takes. */
export interface AgentContextInput {
  readonly message: string;
  /** What goes with the prompt's text (images, for runtimes that declare `vision`); on the prompt's message. */
  readonly parts?: readonly ChatPart[] | undefined;
  /** Where tool events go (and whose signal cancels approvals). */
  readonly session: StreamingSession;
  readonly systemPrompt?: string | undefined;
  readonly history?: readonly ChatMessage[];
  readonly model?: string | undefined;
  readonly tools?: readonly Tool[];
  readonly responseFormat?: StructuredOutputRequest | undefined;
  readonly maxToolRounds?: number;
  /** How this prompt's model calls are retried (runtimes that declare `per-request-retry`). */
  readonly retry?: AgentRetryPolicy | undefined;
  /** How the provider may cache the prompt's prefix (runtimes that declare `prompt-caching`). */
  readonly promptCache?: PromptCacheHint | undefined;
  readonly conversationId?: string | undefined;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** Pending approvals; without it, tools that require approval are refused. */
  readonly approvals?: ApprovalRegistry;
  /** Who may answer this run's approvals. */
  readonly mayAnswer?: MayAnswer;
  readonly approvalTimeoutMs?: number;
  /** Guidance sent while the answer runs (steer). */
  readonly steering?: AgentSteering;
  readonly logger?: Logger;
  /** Where tool calls are counted and traced; absent = nowhere. */
  readonly telemetry?: AiTelemetry;
}

/** Builds an {@link AgentContext} (the pipeline does; so do tests and code that drives a runtime directly). */
export function createAgentContext(input: AgentContextInput): AgentContext {
  const history = input.history ?? [];
  const messages: ChatMessage[] = [];
  if (input.systemPrompt) messages.push({ role: 'system', content: input.systemPrompt });
  const parts = input.parts !== undefined && input.parts.length > 0 ? input.parts : undefined;
  messages.push(...history, { role: 'user', content: input.message, ...(parts ? { parts } : {}) });
  const runner = new ToolRunner({
    tools: input.tools ?? [],
    session: input.session,
    ...(input.approvals ? { approvals: input.approvals } : {}),
    ...(input.mayAnswer ? { mayAnswer: input.mayAnswer } : {}),
    ...(input.approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs: input.approvalTimeoutMs }),
    ...(input.conversationId === undefined ? {} : { conversationId: input.conversationId }),
    ...(input.logger ? { logger: input.logger } : {}),
    ...(input.telemetry ? { telemetry: input.telemetry } : {}),
  });
  return {
    message: input.message,
    ...(parts ? { parts } : {}),
    systemPrompt: input.systemPrompt || undefined,
    history,
    messages,
    model: input.model,
    tools: runner.tools,
    runTool: (call, signal) => runner.run(call, signal),
    responseFormat: input.responseFormat,
    maxToolRounds: input.maxToolRounds ?? 5,
    conversationId: input.conversationId,
    metadata: input.metadata ?? {},
    ...(input.steering ? { steering: input.steering } : {}),
    ...(input.retry ? { retry: input.retry } : {}),
    ...(input.promptCache ? { promptCache: input.promptCache } : {}),
  };
}
