import type { AiRole, AttachmentLimits } from '@atmosphere/protocol';
import type { AtmosphereResource, BroadcasterOptions } from '@atmosphere/runtime';
import type { BroadcastFilter } from '@atmosphere/runtime/spi';
import type { AiInterceptor, AiResponse } from '../pipeline/ai-interceptor.ts';
import type {
  AgentCapability,
  AgentRetryPolicy,
  AgentRuntime,
  PromptCacheHint,
} from '../spi/agent-runtime.ts';
import type { ChatPart } from '../spi/chat.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';
import type { RunRegistryOptions } from '../streaming/run-registry.ts';
import type { StreamingSession } from '../streaming/streaming-session.ts';
import type { StructuredOutput, StructuredOutputOptions } from '../structured/structured-output.ts';
import type { Pricing } from '../telemetry/ai-telemetry.ts';
import type { Tool } from '../tools/tool.ts';

/** Per-call overrides of `session.stream()`. */
export interface StreamOptions {
  readonly systemPrompt?: string;
  readonly model?: string;
  readonly tools?: readonly Tool[];
  readonly structuredOutput?: StructuredOutputOptions | StructuredOutput;
  /** Extra data for the runtime and interceptors (merged over the prompt's metadata). */
  readonly metadata?: Readonly<Record<string, unknown>>;
  /** The images sent with the message. Default: the prompt's attachments (`[]` sends none). */
  readonly attachments?: readonly ChatPart[];
}

/**
 * The session an endpoint's `onPrompt` receives: a {@link StreamingSession} to the asking client (and to
 * clients that re-attach with the run id), plus `stream()`, which runs the whole pipeline.
 */
export interface AiSession extends StreamingSession {
  /** The client that asked. */
  readonly resource: AtmosphereResource;
  /** The conversation the prompt belongs to (memory key). */
  readonly conversationId: string;
  /** The prompt's metadata (JSON form), untrusted: it comes from the client. */
  readonly promptMetadata: Readonly<Record<string, unknown>>;
  /** The prompt's image attachments (JSON form), validated against the endpoint's `attachments` limits. */
  readonly promptAttachments: readonly ChatPart[];
  /**
   * Runs the pipeline (memory, interceptors, the runtime, tools, structured output) for `message` (default: the
   * prompt) and ends the session. Resolves with how it ended; never rejects.
   */
  stream(message?: string, options?: StreamOptions): Promise<AiResponse>;
}

/** What `onPrompt` gets besides the prompt and the session. */
export interface PromptContext {
  readonly resource: AtmosphereResource;
  /** Path template parameters (`/ai/{agent}` → `{ agent }`). */
  readonly params: Readonly<Record<string, string>>;
  readonly metadata: Readonly<Record<string, unknown>>;
  /** The prompt's image attachments (validated); empty for text. */
  readonly attachments: readonly ChatPart[];
}

/**
 * Handles one prompt. The session is ended for you when the function returns without ending it (`complete`)
 * or throws (`error`).
 */
export type OnPrompt = (prompt: string, session: AiSession, context: PromptContext) => unknown;

/** Options of {@link aiEndpoint}. */
export interface AiEndpointOptions {
  /** The managed path (templates allowed: `/ai/{agent}`). */
  readonly path: string;
  readonly systemPrompt?: string;
  /** A model name overriding the runtime's configured one (`LLM_MODEL`). */
  readonly model?: string;
  /** The runtime; default the one the registry selected (`atmosphere.provider('agent-runtime')`). */
  readonly runtime?: AgentRuntime;
  /**
   * Where conversations are kept. Default: the selected `conversation-memory` provider, else an in-memory store
   * (20 messages per conversation). `false` disables memory.
   */
  readonly conversationMemory?: ConversationMemory | false;
  /** Most history messages sent with a prompt. Default 20. */
  readonly maxHistoryMessages?: number;
  readonly tools?: readonly Tool[];
  readonly interceptors?: readonly AiInterceptor[];
  /**
   * Broadcast filters added to the endpoint's broadcasters (PII redaction, cost metering): they see every frame
   * (and any other message broadcast on the path).
   */
  readonly filters?: readonly BroadcastFilter[];
  /** Capabilities the runtime must have; `aiEndpoint` throws at startup otherwise. */
  readonly requires?: readonly AgentCapability[];
  /** Ask for a JSON answer matching a schema (entity events, validation). */
  readonly structuredOutput?: StructuredOutputOptions | StructuredOutput;
  /** Default: `session.stream(prompt)`. */
  readonly onPrompt?: OnPrompt;
  /** The conversation of a prompt. Default: the client's tracking id (one conversation per client). */
  readonly conversationId?: (
    resource: AtmosphereResource,
    metadata: Readonly<Record<string, unknown>>,
  ) => string;
  /** Longest prompt in characters. Default 100 000. */
  readonly maxPromptLength?: number;
  /**
   * Limits on a prompt's image attachments (the JSON form's `attachments`), in decoded bytes: `maxCount`
   * (default 4), `maxBytes` per image (default 512 KiB), `maxTotalBytes` per prompt (default 640 KiB). A prompt
   * past one, or with an attachment that is not a PNG, JPEG, WebP or GIF image in base64, gets an
   * `INVALID_ATTACHMENT` error frame; one with attachments for a runtime that does not declare `vision`, an
   * `UNSUPPORTED_ATTACHMENT` one. Base64 takes a third more than the bytes: above about 768 KiB in all, raise the
   * server's `maxMessageBytes` (1 MiB) too. `maxCount: 0` refuses every attachment.
   */
  readonly attachments?: Partial<AttachmentLimits>;
  /**
   * What a prompt does while an answer to the same client is running:
   * - `queue` (default): it is answered after the running one, in order;
   * - `latest`: the running answer is stopped (it ends `stopped`, its text kept) and the newest is answered;
   * - `merge`: prompts sent meanwhile are folded into one prompt, answered after the running one;
   * - `drop`: it is refused with a `BUSY` error frame;
   * - `debounce`: every prompt waits for `debounceMs` of quiet, then the prompts sent meanwhile are folded into
   *   one, answered after any running one;
   * - `parallel`: it runs at once beside the others (up to `maxConcurrentPrompts`).
   */
  readonly whileAnswering?: WhileAnswering;
  /** The quiet `debounce` waits for. Default 500 ms. */
  readonly debounceMs?: number;
  /** Prompts of one client running at once (`parallel`), or waiting (`queue`, `merge`). Default 4. */
  readonly maxConcurrentPrompts?: number;
  /**
   * What each connection may do to a run (PROTOCOL.md §7, roles): called when a connection joins a run — the
   * asker when its prompt starts, a client re-attaching with the run id — usually from `resource.principal`
   * (what the auth hook established). `viewer` follows; `steerer` also steers and stops; `approver` also
   * answers approvals; `owner` may do all. Each connection is told its role (`ai-role` message). Enforced on
   * every stop, steer and approval answer: a refused one gets a `FORBIDDEN` error frame and changes nothing.
   * Default: `owner` for the connections of the asker's durable session — the same session token, so a
   * reloaded page or a client coming back after a restart owns its run again — and `viewer` for everyone
   * else (they follow, they do not control). When the asker had no session, `owner` for everyone who follows
   * the run. The run records the owner as the SHA-256 digest of the token, never the token. A hook that
   * throws gives `viewer`.
   */
  readonly role?: (context: RoleContext) => AiRole;
  /**
   * Who may answer tool approvals: `owner-and-approvers` (default) or `approvers` (an `owner` may not: a
   * supervisor approves what the asker's answer wants to do).
   */
  readonly approvalsBy?: ApprovalsBy;
  /**
   * Prices by model in US dollars per million tokens (`{ 'gpt-4o-mini': { input: 0.15, output: 0.6 } }`; key
   * `default` for the runtime's configured model): with a `metrics` provider, each run's tokens add to
   * `atmosphere_ai_cost_usd_total` by runtime and model, and the run's span gets `atmosphere.ai.cost_usd`. A
   * model without a price is not costed. A price missing, negative or not finite fails `aiEndpoint`.
   */
  readonly pricing?: Pricing;
  /** How long a tool approval waits. Default 300 000 ms. */
  readonly approvalTimeoutMs?: number;
  /** Most consecutive model calls ending with tool calls. Default 5. */
  readonly maxToolRounds?: number;
  /**
   * How each prompt's model calls are retried when they fail before the first token (429, 5xx, a timeout), over
   * the runtime's own policy: `{ maxRetries: 2 }`; an interceptor may change it prompt by prompt
   * (`AiRequest.retry`). Applied by runtimes that declare `per-request-retry` (the others keep their own, and
   * the pipeline says so once). `maxRetries` must be an integer from 0 to 10.
   */
  readonly retry?: AgentRetryPolicy;
  /**
   * How the provider may cache each prompt's stable prefix (the system prompt, tools, history):
   * `{ key: 'support-v3', retention: 'long' }` — prompts with the same key share the provider's cache (OpenAI's
   * `prompt_cache_key`); Anthropic models get cache breakpoints. Sent by runtimes that declare `prompt-caching`
   * (the others ignore it, and the pipeline says so once); an interceptor may change it prompt by prompt
   * (`AiRequest.promptCache`, e.g. a key per tenant). Configured on the server: clients cannot set it. The key
   * has 1 to 64 characters; the retention is `short` or `long`.
   */
  readonly promptCache?: PromptCacheHint;
  /** How long finished runs stay available for re-attach, and memory limits. */
  readonly runs?: RunRegistryOptions;
  /**
   * What happens to an answer whose process died mid-answer, when a client re-attaches to it after the restart
   * (a durable stream log is needed: SQLite or Redis). The client first gets exactly the frames it missed, then:
   * - `continue`: this process asks the model to continue from the partial text and appends to the same run
   *   (the answer's final text is the partial text followed by the continuation, no frame twice), bounded by
   *   `maxAttempts`, `noProgressMs` and `maxContinuationChars`; past a bound, or for a run whose `onPrompt`
   *   did not go through `session.stream()`, the run ends as with `close`;
   * - `close`: a terminal `error` frame with code `INTERRUPTED` ends the run; the text so far stands.
   *
   * Default `continue` when the runtime declares `conversation-memory` (it sends the history, so it can be
   * given the partial answer), otherwise `close`.
   */
  readonly interruptedRuns?: InterruptedRuns;
  /** Options of the path's broadcasters. */
  readonly broadcaster?: BroadcasterOptions;
}

/** Who may answer tool approvals (see `AiEndpointOptions.approvalsBy`). */
export type ApprovalsBy = 'owner-and-approvers' | 'approvers';

/** What the `role` hook gets: the connection joining a run, and the run. */
export interface RoleContext {
  /** The connection joining the run. */
  readonly resource: AtmosphereResource;
  /** What the auth hook established about it (`resource.principal`). */
  readonly principal: unknown;
  readonly runId: string;
  /**
   * The connection whose prompt started the run (the same as `resource` for the asker); for a run continued
   * after a restart, the first connection that came back to it. Undefined for a connection that follows, on
   * this node, a run another node of the cluster produces (its asker is there).
   */
  readonly asker: AtmosphereResource | undefined;
  /**
   * True when the connection presents the session token of the run's asker (compared by SHA-256 digest): the
   * asker itself, its reloaded page, or the asker coming back after a restart. False for every connection
   * when the run's owner is not known (its record is missing from the durable log).
   */
  readonly sessionOwner: boolean;
}

/** What a prompt does while an answer to the same client is running (see `AiEndpointOptions.whileAnswering`). */
export type WhileAnswering = 'queue' | 'latest' | 'merge' | 'drop' | 'debounce' | 'parallel';

/** What happens to an answer cut by the death of its process (see `AiEndpointOptions.interruptedRuns`). */
export interface InterruptedRuns {
  readonly policy?: 'continue' | 'close';
  /** Continuations of one run, across restarts. Default 2. */
  readonly maxAttempts?: number;
  /** A continuation that sends no frame for this long ends `INTERRUPTED`. Default 30 000 ms. */
  readonly noProgressMs?: number;
  /** A continuation that has sent this many characters ends `INTERRUPTED` (a spend cap). Default 16 000. */
  readonly maxContinuationChars?: number;
}
