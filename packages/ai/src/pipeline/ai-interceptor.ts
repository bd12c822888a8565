import type { AtmosphereResource } from '@atmosphere/runtime';
import type { AgentRetryPolicy, PromptCacheHint } from '../spi/agent-runtime.ts';
import type { ChatMessage, ChatPart, TokenUsage } from '../spi/chat.ts';
import type { StreamingSession } from '../streaming/streaming-session.ts';
import type { StructuredOutput } from '../structured/structured-output.ts';
import type { Tool } from '../tools/tool.ts';

/** A prompt on its way to the model, as interceptors see (and may replace) it. */
export interface AiRequest {
  readonly message: string;
  /**
   * What goes with the message (the prompt's image attachments); absent or empty for text. An interceptor may
   * drop or replace them; a runtime that does not declare `vision` refuses a request that still has some.
   */
  readonly parts?: readonly ChatPart[] | undefined;
  readonly systemPrompt: string | undefined;
  readonly model: string | undefined;
  readonly tools: readonly Tool[];
  /** The conversation so far (from the memory, trimmed), oldest first. */
  readonly history: readonly ChatMessage[];
  readonly conversationId: string | undefined;
  readonly structuredOutput: StructuredOutput | undefined;
  readonly metadata: Readonly<Record<string, unknown>>;
  /**
   * How this prompt's model calls are retried, overriding the runtime's policy (runtimes that declare
   * `per-request-retry`; others keep their own and the pipeline logs a warning once per runtime).
   */
  readonly retry?: AgentRetryPolicy | undefined;
  /**
   * How the provider may cache this prompt's stable prefix (runtimes that declare `prompt-caching`; others
   * ignore it and the pipeline logs a warning once per runtime). Server-side: never copy a client's value in
   * unchecked — a key chooses whose cache a prompt shares.
   */
  readonly promptCache?: PromptCacheHint | undefined;
}

/** How a prompt's answer ended, as `beforeCompletion` and `postProcess` see it. */
export interface AiResponse {
  readonly status: 'complete' | 'error' | 'cancelled' | 'stopped';
  /** The answer's text, as streamed. */
  readonly text: string;
  readonly usage: TokenUsage | undefined;
  /** The validated entity, with structured output. */
  readonly entity?: unknown;
  /** The failure, when `status` is not `complete`. */
  readonly error?: unknown;
}

/** What interceptor hooks get besides the request. */
export interface AiInterceptorContext {
  /** The answer's session: an interceptor may emit frames of its own (citations, progress). */
  readonly session: StreamingSession;
  /** The client that asked, when the prompt came from one. */
  readonly resource: AtmosphereResource | undefined;
  readonly signal: AbortSignal;
}

/**
 * Cross-cutting behaviour around every prompt of an endpoint (RAG, guardrails, logging, cost). Hooks may be
 * async. Order: `preProcess` runs first to last; `beforeCompletion` and `postProcess` run last to first (the
 * way out, like the runtime's interceptors).
 */
export interface AiInterceptor {
  readonly name?: string;
  /**
   * Before the model is called. Return a changed request (or nothing to keep it). Throw to refuse the prompt:
   * the client gets an `error` frame with the error's message.
   */
  preProcess?(
    request: AiRequest,
    context: AiInterceptorContext,
  ): AiRequest | void | Promise<AiRequest | void>;
  /**
   * After the model answered successfully, before the `complete` frame: may emit more frames. Throwing turns
   * the end into an `error` frame.
   */
  beforeCompletion?(
    response: AiResponse,
    request: AiRequest,
    context: AiInterceptorContext,
  ): void | Promise<void>;
  /** After the session closed, whatever the outcome. Errors are logged, not sent. */
  postProcess?(response: AiResponse, request: AiRequest, context: AiInterceptorContext): void | Promise<void>;
  /** The client left for good while its prompt was running (just before the run is cancelled). */
  onDisconnect?(request: AiRequest, context: AiInterceptorContext): void;
}
