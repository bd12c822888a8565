import { type AtmosphereResource, type Logger, silentLogger } from '@atmosphere/runtime';
import { aiError, describeError, isAbortError } from '../errors.ts';
import type {
  AgentCapability,
  AgentRetryPolicy,
  AgentRuntime,
  PromptCacheHint,
} from '../spi/agent-runtime.ts';
import type { ChatMessage, ChatPart } from '../spi/chat.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';
import type { StreamingSession } from '../streaming/streaming-session.ts';
import type { AiTelemetry, Pricing, RunMeasure } from '../telemetry/ai-telemetry.ts';
import {
  StructuredCapture,
  type StructuredOutput,
  structuredInstruction,
} from '../structured/structured-output.ts';
import type { ApprovalRegistry, MayAnswer } from '../tools/approvals.ts';
import type { Tool } from '../tools/tool.ts';
import { createAgentContext } from './agent-context.ts';
import type { AiInterceptor, AiInterceptorContext, AiRequest, AiResponse } from './ai-interceptor.ts';
import { PipelineSession } from './pipeline-session.ts';
import { promptCacheProblem } from './prompt-cache.ts';
import type { Steering } from './steering.ts';

/** One prompt through the whole pipeline: {@link runAgent}. */
export interface RunAgentOptions {
  readonly runtime: AgentRuntime;
  /** Where the answer goes; the pipeline closes it. */
  readonly session: StreamingSession;
  readonly message: string;
  /**
   * Images that go with the message (the runtime must declare `vision`, or the run ends with an
   * `UNSUPPORTED_ATTACHMENT` error). Sent to the model with this prompt only: the conversation memory keeps
   * the message's text, not the images.
   */
  readonly parts?: readonly ChatPart[] | undefined;
  readonly systemPrompt?: string | undefined;
  readonly model?: string | undefined;
  readonly tools?: readonly Tool[];
  /** Conversation memory; the exchange is appended after a successful answer. */
  readonly memory?: ConversationMemory | undefined;
  /** Most history messages sent to the model. Default 20. */
  readonly maxHistoryMessages?: number;
  readonly conversationId?: string | undefined;
  readonly interceptors?: readonly AiInterceptor[];
  readonly structuredOutput?: StructuredOutput | undefined;
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The asking client, for interceptors. */
  readonly resource?: AtmosphereResource | undefined;
  readonly approvals?: ApprovalRegistry | undefined;
  readonly mayAnswer?: MayAnswer;
  readonly approvalTimeoutMs?: number | undefined;
  /** Most consecutive tool rounds. Default 5. */
  readonly maxToolRounds?: number;
  /** How this prompt's model calls are retried (interceptors may change it: `AiRequest.retry`). */
  readonly retry?: AgentRetryPolicy | undefined;
  /** How the provider may cache the prompt's prefix (interceptors may change it: `AiRequest.promptCache`). */
  readonly promptCache?: PromptCacheHint | undefined;
  /**
   * The text an earlier process already streamed for this prompt before it died: the model is given it as its
   * own partial answer and asked to go on from there; the conversation keeps the partial text followed by
   * what this call adds.
   */
  readonly continueFrom?: string | undefined;
  /** Guidance sent while the answer runs (steer); what is left when it completes is acknowledged `unused`. */
  readonly steering?: Steering | undefined;
  /** Called with the request once interceptors ran (the endpoint keeps it for `onDisconnect`). */
  readonly onRequest?: (request: AiRequest) => void;
  readonly logger?: Logger;
  /** Where the run is measured and traced (`AiTelemetry.of(atmosphere)`); absent = nowhere. */
  readonly telemetry?: AiTelemetry;
  /** Prices by model: the run's tokens are costed (`atmosphere_ai_cost_usd_total`). */
  readonly pricing?: Pricing;
}

/**
 * Runs one prompt: loads the conversation, runs `preProcess` interceptors (first to last), executes the
 * runtime, validates structured output, runs `beforeCompletion` (last to first), ends the session, stores the
 * exchange in memory and runs `postProcess` (last to first). Never throws: every failure ends the session with
 * an `error` frame, and the returned response says how it ended.
 */
export async function runAgent(options: RunAgentOptions): Promise<AiResponse> {
  const session = options.session;
  const logger = options.logger ?? silentLogger;
  const interceptors = options.interceptors ?? [];
  const context: AiInterceptorContext = { session, resource: options.resource, signal: session.signal };
  let request: AiRequest = {
    message: options.message,
    ...(options.parts !== undefined && options.parts.length > 0 ? { parts: options.parts } : {}),
    systemPrompt: options.systemPrompt,
    model: options.model,
    tools: options.tools ?? [],
    history: [],
    conversationId: options.conversationId,
    structuredOutput: options.structuredOutput,
    metadata: options.metadata ?? {},
    ...(options.retry === undefined ? {} : { retry: options.retry }),
    ...(options.promptCache === undefined ? {} : { promptCache: options.promptCache }),
  };
  let view: PipelineSession | undefined;
  let response: AiResponse;
  let measure: RunMeasure | undefined;
  try {
    const memory = options.memory;
    if (memory && options.conversationId !== undefined) {
      const limit = options.maxHistoryMessages ?? 20;
      const history =
        limit > 0 ? await memory.history(options.conversationId, { limit, signal: session.signal }) : [];
      request = {
        ...request,
        history: history.length > limit ? history.slice(history.length - limit) : history,
      };
    }
    for (const interceptor of interceptors) {
      if (!interceptor.preProcess) continue;
      const changed = await interceptor.preProcess(request, context);
      if (changed) request = changed;
    }
    options.onRequest?.(request);
    const parts = request.parts ?? [];
    if (parts.length > 0 && !options.runtime.capabilities.has('vision'))
      throw unsupportedAttachments(options.runtime, parts.length);
    measure = options.telemetry?.startRun(options.runtime.name, request.model, options.resource?.id, {
      ...(options.pricing === undefined ? {} : { pricing: options.pricing }),
      runId: session.runId,
    });
    const structured = request.structuredOutput;
    const capture = structured ? new StructuredCapture(structured, session) : undefined;
    view = new PipelineSession(session, capture, measure);
    const systemPrompt = structured
      ? [request.systemPrompt, structuredInstruction(structured.request)].filter(Boolean).join('\n\n')
      : request.systemPrompt;
    const partial = options.continueFrom;
    const agentContext = createAgentContext({
      message: partial === undefined ? request.message : CONTINUE_INSTRUCTION,
      ...(partial === undefined ? { parts } : {}),
      session: view,
      systemPrompt,
      history:
        partial === undefined
          ? request.history
          : [
              ...request.history,
              { role: 'user', content: request.message, ...(parts.length > 0 ? { parts } : {}) },
              { role: 'assistant', content: partial },
            ],
      model: request.model,
      tools: request.tools,
      responseFormat: structured?.request,
      maxToolRounds: options.maxToolRounds ?? 5,
      retry: retryFor(options.runtime, request.retry, logger),
      promptCache: promptCacheFor(options.runtime, request.promptCache, logger),
      conversationId: request.conversationId,
      metadata: request.metadata,
      mayAnswer: options.mayAnswer ?? (() => true),
      logger,
      ...(options.telemetry ? { telemetry: options.telemetry } : {}),
      ...(options.steering ? { steering: options.steering } : {}),
      ...(options.approvals ? { approvals: options.approvals } : {}),
      ...(options.approvalTimeoutMs === undefined ? {} : { approvalTimeoutMs: options.approvalTimeoutMs }),
    });
    try {
      const pipelineView = view;
      await (measure === undefined
        ? options.runtime.execute(agentContext, view, session.signal)
        : measure.within(() => options.runtime.execute(agentContext, pipelineView, session.signal)));
    } catch (error) {
      view.error(error);
    }
    const ended = view.ended;
    if (session.closed && (await session.done).status === 'stopped') {
      // Stopped by the user: what was said so far stands, in the conversation too.
      response = { status: 'stopped', text: view.text, usage: view.totalUsage };
      await remember(options, request, (partial ?? '') + view.text, logger);
    } else if (ended?.status === 'error' || session.closed) {
      const error = ended?.status === 'error' ? ended.error : await outcomeError(session);
      response = failed(view, error);
    } else {
      // The runtime completed (or returned without ending the session, which counts as complete).
      const entity = capture ? await capture.finish() : undefined;
      const done: AiResponse = {
        status: 'complete',
        text: view.text,
        usage: view.totalUsage,
        ...(capture ? { entity } : {}),
      };
      for (let i = interceptors.length - 1; i >= 0; i--)
        await interceptors[i]!.beforeCompletion?.(done, request, context);
      options.steering?.finish();
      session.complete(ended?.status === 'complete' ? ended.summary : undefined);
      response = done;
      await remember(options, request, (partial ?? '') + view.text, logger);
    }
  } catch (error) {
    session.error(error);
    response = failed(view, error);
  }
  measure?.end(
    view?.firstTextAt ?? 0,
    response.usage,
    response.status === 'error' ? (response.error ?? new Error('The run failed.')) : undefined,
  );
  for (let i = interceptors.length - 1; i >= 0; i--) {
    const interceptor = interceptors[i]!;
    if (!interceptor.postProcess) continue;
    try {
      await interceptor.postProcess(response, request, context);
    } catch (error) {
      logger.error(`AI interceptor ${interceptors[i]!.name ?? i}: postProcess failed`, { error });
    }
  }
  return response;
}

/** The error of a prompt with attachments for a runtime that does not declare `vision`. */
export function unsupportedAttachments(runtime: AgentRuntime, count: number): Error {
  return aiError(
    'UNSUPPORTED_ATTACHMENT',
    `The prompt has ${count} image attachment${count === 1 ? '' : 's'}, and the agent runtime ${runtime.name} does not declare vision: send the prompt without attachments, or use a runtime that reads images.`,
  );
}

const warned = new WeakMap<AgentRuntime, Set<AgentCapability>>();

/** Logs `message` the first time a prompt asks `runtime` for a `capability` it does not declare. */
function warnUndeclared(
  runtime: AgentRuntime,
  capability: AgentCapability,
  logger: Logger,
  message: () => string,
): void {
  if (runtime.capabilities.has(capability)) return;
  let capabilities = warned.get(runtime);
  if (capabilities === undefined) warned.set(runtime, (capabilities = new Set()));
  if (capabilities.has(capability)) return;
  capabilities.add(capability);
  logger.warn(`agent runtime ${runtime.name} does not declare ${capability}: ${message()}`);
}

/** The prompt's retry policy; a runtime that cannot honour one is named in a warning, once. */
function retryFor(
  runtime: AgentRuntime,
  retry: AgentRetryPolicy | undefined,
  logger: Logger,
): AgentRetryPolicy | undefined {
  if (retry !== undefined)
    warnUndeclared(
      runtime,
      'per-request-retry',
      logger,
      () => `a prompt's retry policy (maxRetries ${retry.maxRetries}) is not applied, the runtime's own is`,
    );
  return retry;
}

/**
 * The prompt's caching hint, checked (an invalid one, set by an interceptor, fails the run: `AI_FAILED`); a
 * runtime that cannot send one is named in a warning, once.
 */
function promptCacheFor(
  runtime: AgentRuntime,
  hint: PromptCacheHint | undefined,
  logger: Logger,
): PromptCacheHint | undefined {
  if (hint === undefined) return undefined;
  const problem = promptCacheProblem(hint);
  if (problem !== undefined) throw aiError('AI_FAILED', `The prompt's promptCache hint: ${problem}.`);
  warnUndeclared(
    runtime,
    'prompt-caching',
    logger,
    () => "a prompt's caching hint is not sent to the provider (cached input tokens may still be reported)",
  );
  return hint;
}

/**
 * What the model is asked after its own partial answer, when a run is continued after a restart: go on
 * exactly where the text stops, without repeating it (the client already has it).
 */
export const CONTINUE_INSTRUCTION =
  'Your previous answer was cut off by a server restart. Continue it exactly where it stops, without repeating any of it and without mentioning the interruption.';

/** Stores the exchange in the conversation memory, when there is one; a failure is logged. */
async function remember(
  options: RunAgentOptions,
  request: AiRequest,
  answer: string,
  logger: Logger,
): Promise<void> {
  const memory = options.memory;
  if (!memory || options.conversationId === undefined) return;
  const exchange: ChatMessage[] = [
    { role: 'user', content: request.message },
    { role: 'assistant', content: answer },
  ];
  await memory
    .append(options.conversationId, exchange)
    .catch((error: unknown) =>
      logger.error(`conversation memory ${memory.name}: the exchange could not be stored`, { error }),
    );
}

async function outcomeError(session: StreamingSession): Promise<unknown> {
  const outcome = await session.done;
  return outcome.status === 'error' ? outcome.error : undefined;
}

function failed(view: PipelineSession | undefined, error: unknown): AiResponse {
  const cancelled = isAbortError(error) || describeError(error).code === 'CANCELLED';
  return {
    status: cancelled ? 'cancelled' : 'error',
    text: view?.text ?? '',
    usage: view?.totalUsage,
    error,
  };
}
