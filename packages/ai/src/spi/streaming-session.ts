import type { AiEvent } from '@atmosphere/protocol';
import type { TokenUsage } from './chat.ts';

/** How a session ended. */
export type SessionOutcome =
  | { readonly status: 'complete'; readonly summary: string | undefined }
  | { readonly status: 'stopped' }
  | { readonly status: 'error'; readonly message: string; readonly code: string; readonly error: unknown };

/**
 * The stream of one prompt's answer: every call becomes one AI frame (PROTOCOL.md §7), serialised once and
 * broadcast through the runtime (filters, the per-client cache, backpressure and clustering apply).
 *
 * Contract: `seq` counts from 1; frames keep their call order; `complete` and `error` are terminal and
 * idempotent — the first one wins, and every write after it is dropped silently (a late token from a
 * cancelled model call is not an error). Nothing here throws on a write.
 */
export interface StreamingSession {
  /** A fresh id per prompt; every frame carries it. */
  readonly sessionId: string;
  /** The run id a client re-sends (`X-Atmosphere-Run-Id`) to re-attach to this answer. */
  readonly runId: string;
  /** The `seq` of the last frame written (0 before the first). */
  readonly seq: number;
  /** True once `complete` or `error` was called (or the session was cancelled or stopped). */
  readonly closed: boolean;
  /** Aborted when the session is cancelled (its audience left for good, or `cancel()`) or stopped; pass it upstream. */
  readonly signal: AbortSignal;
  /** Resolves (never rejects) when the session closes. */
  readonly done: Promise<SessionOutcome>;
  /** A chunk of the answer's text: a `streaming-text` frame. */
  send(text: string): void;
  /** A progress notice (`Thinking…`): a `progress` frame. */
  progress(message: string): void;
  /** A `metadata` frame (`ai.model`, `routing.*`, …). */
  metadata(key: string, value: unknown): void;
  /**
   * Token counts: one `metadata` frame per count given (`ai.tokens.input|output|cached_input|total`). Calls add
   * up — a runtime may report each model call as it ends — and each frame carries the run's total so far (a
   * stopped run's terminal frame carries them too).
   */
  usage(tokens: TokenUsage): void;
  /** A typed event frame (`tool-start`, `approval-required`, …). */
  emit(event: AiEvent): void;
  /** A chunk of a tool call's arguments as the model streams them: metadata `ai.toolCall.delta.<id>`. */
  toolCallDelta(id: string, chunk: string): void;
  /** Ends the answer: the `complete` frame (with the summary as `data` when given). */
  complete(summary?: string): void;
  /** Ends the answer with an `error` frame carrying the error's message and code. */
  error(error: unknown): void;
  /** Ends the session as cancelled (an `error` frame with code `CANCELLED`) and aborts `signal`. */
  cancel(reason?: unknown): void;
}
