import type { Availability } from '@atmosphere/runtime/spi';
import type { ChatMessage, ChatPart } from './chat.ts';
import type { ConversationMemory } from './conversation-memory.ts';
import type { JsonSchema } from './json-schema.ts';
import type { StreamingSession } from './streaming-session.ts';
import type { Tool, ToolCallRequest, ToolOutcome } from './tool.ts';

/**
 * What a runtime can do. A runtime declares exactly what it honours, and the contract suite
 * (`@atmosphere/ai/testing`) exercises every declared capability.
 */
export type AgentCapability =
  /** Text arrives as several `streaming-text` frames while the model produces it, not in one piece. */
  | 'text-streaming'
  /** `context.systemPrompt` reaches the model as its instructions. */
  | 'system-prompt'
  /** `context.history` reaches the model before the prompt (multi-turn conversations). */
  | 'conversation-memory'
  /** The model may call `context.tools`; calls go through `context.runTool` and the answer continues after them. */
  | 'tool-calling'
  /** Tools that require approval wait for the user's decision (through `context.runTool`). */
  | 'tool-approval'
  /**
   * A tool call's arguments reach the client as the model produces them: `session.toolCallDelta()` (metadata
   * `ai.toolCall.delta.<id>`), whose chunks joined are the call's arguments.
   */
  | 'tool-call-deltas'
  /**
   * The model's reasoning (thinking, thought summaries) reaches the client as it is produced, as
   * `reasoning-delta` events of their own, never mixed into the answer's text.
   */
  | 'reasoning-deltas'
  /**
   * Images reach the model: the `parts` of user messages (`context.parts`, on the prompt's message in
   * `context.messages`) are sent in the provider's own form (an image content part with the bytes), never
   * dropped. A runtime without it is never given parts: the endpoint and `runAgent` refuse such a prompt
   * (`UNSUPPORTED_ATTACHMENT`).
   */
  | 'vision'
  /** `context.responseFormat` is honoured: the model is asked for JSON matching the schema (JSON mode when the provider has it). */
  | 'structured-output'
  /** Token counts are reported with `session.usage()`. */
  | 'token-usage'
  /** Aborting `signal` stops the upstream model call promptly and settles `execute`. */
  | 'cancellation'
  /**
   * `context.retry` is honoured: a model call that fails before its first token with a retryable error (429,
   * 5xx, a timeout) is retried `retry.maxRetries` times for this prompt, instead of the runtime's own policy.
   */
  | 'per-request-retry'
  /**
   * `context.promptCache` reaches the provider in its own form — a cache key that routes prompts sharing a
   * prefix to the same cache (OpenAI's `prompt_cache_key`) or cache breakpoints after the stable prefix
   * (Anthropic's `cacheControl` on the system prompt and the history), with the retention asked for — and the
   * input tokens the provider read from its cache come back in the usage (`ai.tokens.cached_input`).
   */
  | 'prompt-caching';

/** Every capability name. */
export const AGENT_CAPABILITIES: readonly AgentCapability[] = [
  'text-streaming',
  'system-prompt',
  'conversation-memory',
  'tool-calling',
  'tool-approval',
  'tool-call-deltas',
  'reasoning-deltas',
  'vision',
  'structured-output',
  'token-usage',
  'cancellation',
  'per-request-retry',
  'prompt-caching',
];

/** How one prompt's model calls are retried (see the `per-request-retry` capability). */
export interface AgentRetryPolicy {
  /**
   * Retries after the first attempt of a model call that failed before its first token with a retryable error
   * (429, 5xx, a timeout); 0 = none. An answer that has started streaming is never retried.
   */
  readonly maxRetries: number;
}

/**
 * A prompt-caching hint (see the `prompt-caching` capability): how the provider may cache the prompt's stable
 * prefix (system prompt, tools, history) across prompts. A hint, not a guarantee: the provider decides what it
 * caches (OpenAI and Anthropic only from about 1 024 tokens of prefix); what it read from its cache is reported as
 * `ai.tokens.cached_input`. Set by the server (`aiEndpoint({ promptCache })`, an interceptor's
 * `AiRequest.promptCache`, `runAgent({ promptCache })`), never taken from a client as it is.
 */
export interface PromptCacheHint {
  /**
   * Prompts with the same key share the provider's cache of their common prefix (OpenAI's `prompt_cache_key`):
   * e.g. the system prompt's version, or a tenant. 1 to 64 characters; providers that cache at breakpoints
   * (Anthropic) have no key and ignore it.
   */
  readonly key?: string;
  /**
   * How long the provider keeps the prefix: `short` (minutes: OpenAI's `in_memory`, Anthropic's 5-minute
   * `ephemeral`) or `long` (OpenAI's `24h`, Anthropic's `1h` ttl). Default: the provider's own.
   */
  readonly retention?: 'short' | 'long';
}

/** A request for a JSON answer matching a schema. */
export interface StructuredOutputRequest {
  /** A type name for the `entity-*` events and the provider's schema name (`[A-Za-z0-9_-]`). */
  readonly name: string;
  readonly jsonSchema: JsonSchema;
}

/** Everything a runtime needs for one prompt. Built by the endpoint pipeline (or {@link createAgentContext}). */
export interface AgentContext {
  /** The user's prompt (after interceptors). */
  readonly message: string;
  /**
   * What goes with the prompt's text (images), also on the prompt's message in `messages`; absent for a text
   * prompt, and always for a runtime that does not declare `vision`.
   */
  readonly parts?: readonly ChatPart[];
  /** Instructions for the model (the structured-output instruction included), if any. */
  readonly systemPrompt: string | undefined;
  /** Earlier messages of the conversation, oldest first (no system message). */
  readonly history: readonly ChatMessage[];
  /** The whole conversation to send: the system message (if any), the history, then the prompt. */
  readonly messages: readonly ChatMessage[];
  /** A model name overriding the runtime's configured one. */
  readonly model: string | undefined;
  /** Tools the model may call. */
  readonly tools: readonly Tool[];
  /**
   * Runs one tool call the model asked for: validation, approval, events, execution. Never throws; the
   * outcome's `content` is what to send back to the model.
   */
  runTool(call: ToolCallRequest, signal?: AbortSignal): Promise<ToolOutcome>;
  /** Ask for a JSON answer matching this schema, when given. */
  readonly responseFormat: StructuredOutputRequest | undefined;
  /** Most model calls in a row that may end with tool calls. Default 5. */
  readonly maxToolRounds: number;
  /**
   * How this prompt's model calls are retried, overriding the runtime's own policy; undefined = the runtime's.
   * Honoured by runtimes that declare `per-request-retry`.
   */
  readonly retry?: AgentRetryPolicy;
  /**
   * How the provider may cache this prompt's stable prefix; undefined = no hint (the provider's defaults).
   * Honoured by runtimes that declare `prompt-caching`.
   */
  readonly promptCache?: PromptCacheHint;
  readonly conversationId: string | undefined;
  /** Application data for the runtime (from the prompt's JSON `metadata` and interceptors). */
  readonly metadata: Readonly<Record<string, unknown>>;
  /**
   * Guidance users sent while the answer runs (`steer` frames), waiting for a step boundary. A runtime that
   * steers checks it before each model call that follows another (between tool rounds) and, when the model has
   * answered and guidance waits, may make one more call with it (within `maxToolRounds`): `take()` returns the
   * pieces (each acknowledged `applied` to the clients), to add as user messages. Guidance left when the answer
   * completes is acknowledged `unused`. Absent when the run cannot be steered.
   */
  readonly steering?: AgentSteering;
}

/** The guidance of a running answer (see {@link AgentContext.steering}). */
export interface AgentSteering {
  /** Pieces waiting. */
  readonly pending: number;
  /** Every waiting piece, oldest first; each is acknowledged `applied`. */
  take(): readonly string[];
}

/**
 * The SPI between Atmosphere and an AI framework or model API (provider kind `agent-runtime`). The built-in
 * OpenAI-compatible client, the demo model and each adapter implement it; the registry selects one at startup
 * by availability and priority.
 *
 * `execute` contract (checked by the contract suite):
 * - streams the answer's text with `session.send()` and reports events (`tool-*`, usage) on `session`;
 * - ends the session itself: `session.complete()` on success, `session.error(error)` on failure (provider
 *   errors classified, see `LlmError`) — exactly one of them;
 * - when `signal` aborts, stops the upstream call promptly, ends the session with an error, and settles;
 * - the returned promise settles after the session is closed; it may reject with the same error it reported.
 */
export interface AgentRuntime {
  readonly name: string;
  /** Higher wins when several are available (built-in 0, demo -100, adapters 100). */
  readonly priority: number;
  readonly capabilities: ReadonlySet<AgentCapability>;
  /** `true`, or why not, naming the option or env var that fixes it. */
  isAvailable(): Availability | Promise<Availability>;
  execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void>;
  /** Releases what the runtime holds (connections). */
  close?(): Promise<void>;
}

declare module '@atmosphere/runtime/spi' {
  interface ProviderKinds {
    'agent-runtime': AgentRuntime;
    'conversation-memory': ConversationMemory;
  }
}
