import { randomUUID } from 'node:crypto';
import { type Logger, silentLogger } from '@atmosphere/runtime';
import { addUsage, type TokenUsage } from '../spi/chat.ts';
import type { SessionOutcome, StreamingSession } from '../spi/streaming-session.ts';
import { cancelledError, describeError, stoppedError } from '../errors.ts';
export type { SessionOutcome, StreamingSession };

import {
  type AiEvent,
  completeFrame,
  errorFrame,
  eventFrame,
  metadataFrame,
  progressFrame,
  RUN_ID_METADATA_KEY,
  textFrame,
} from '@atmosphere/protocol';
import type { FrameSink } from './frame-sink.ts';
import type { RunRecord } from './run-registry.ts';

export interface StreamingSessionOptions {
  /** Where frames go. */
  readonly sink: FrameSink;
  /** Default: a random UUID. */
  readonly sessionId?: string;
  /** Default: a random UUID. */
  readonly runId?: string;
  /** Keeps the frames for clients that re-attach with the run id. */
  readonly run?: RunRecord;
  /** Cancels the session when aborted. */
  readonly signal?: AbortSignal;
  /** Write the `X-Atmosphere-Run-Id` metadata frame first. Default true. */
  readonly announceRunId?: boolean;
  /** The seq of the first frame: 1, or the next one of a run continued after a restart. Default 1. */
  readonly firstSeq?: number;
  /** Turns text that must not reach clients (secrets) into something that may. Applied to error messages. */
  readonly redact?: (text: string) => string;
  readonly logger?: Logger;
}

/** The implementation of {@link StreamingSession} over a {@link FrameSink}. */
export class FrameStreamingSession implements StreamingSession {
  readonly sessionId: string;
  readonly runId: string;
  readonly done: Promise<SessionOutcome>;
  #seq = 0;
  #closed = false;
  readonly #sink: FrameSink;
  readonly #run: RunRecord | undefined;
  readonly #controller = new AbortController();
  readonly #redact: ((text: string) => string) | undefined;
  readonly #logger: Logger;
  #usage: TokenUsage | undefined;
  #resolve!: (outcome: SessionOutcome) => void;

  constructor(options: StreamingSessionOptions) {
    this.sessionId = options.sessionId ?? randomUUID();
    this.runId = options.runId ?? randomUUID();
    this.#sink = options.sink;
    this.#run = options.run;
    if (options.firstSeq !== undefined && options.firstSeq > 1) this.#seq = options.firstSeq - 1;
    this.#redact = options.redact;
    this.#logger = options.logger ?? silentLogger;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
    const external = options.signal;
    if (external) {
      if (external.aborted) queueMicrotask(() => this.cancel(external.reason));
      else external.addEventListener('abort', () => this.cancel(external.reason), { once: true });
    }
    if (options.announceRunId ?? true) this.metadata(RUN_ID_METADATA_KEY, this.runId);
  }

  get seq(): number {
    return this.#seq;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  #write(frame: string): void {
    this.#run?.record(frame);
    try {
      this.#sink.write(frame);
    } catch (error) {
      // A sink failure (a destroyed broadcaster) must not break the model loop that called us.
      this.#logger.error(`AI session ${this.sessionId}: a frame could not be written`, { error });
    }
  }

  send(text: string): void {
    if (this.#closed || text.length === 0) return;
    this.#write(textFrame(text, this.sessionId, ++this.#seq));
  }

  progress(message: string): void {
    if (this.#closed) return;
    this.#write(progressFrame(message, this.sessionId, ++this.#seq));
  }

  metadata(key: string, value: unknown): void {
    if (this.#closed) return;
    this.#write(metadataFrame(key, value, this.sessionId, ++this.#seq));
  }

  /** The token counts reported so far (the sum of every {@link usage} call). */
  get usageSoFar(): TokenUsage | undefined {
    return this.#usage;
  }

  usage(tokens: TokenUsage): void {
    if (this.#closed) return;
    // Calls add up (a runtime may report each model call as it ends); the frames carry the run's totals.
    const total = (this.#usage = addUsage(this.#usage, tokens)!);
    if (tokens.input !== undefined) this.metadata('ai.tokens.input', total.input);
    if (tokens.output !== undefined) this.metadata('ai.tokens.output', total.output);
    if (tokens.cachedInput !== undefined) this.metadata('ai.tokens.cached_input', total.cachedInput);
    if (tokens.total !== undefined) this.metadata('ai.tokens.total', total.total);
  }

  emit(event: AiEvent): void {
    if (this.#closed) return;
    this.#write(eventFrame(event, this.sessionId, ++this.#seq));
  }

  toolCallDelta(id: string, chunk: string): void {
    this.metadata(`ai.toolCall.delta.${id}`, chunk);
  }

  complete(summary?: string): void {
    if (this.#closed) return;
    this.#write(completeFrame(summary, this.sessionId, ++this.#seq));
    this.#close({ status: 'complete', summary });
  }

  error(error: unknown): void {
    if (this.#closed) return;
    const described = describeError(error);
    const message = this.#redact ? this.#redact(described.message) : described.message;
    this.#write(errorFrame(message, described.code, this.sessionId, ++this.#seq));
    this.#close({ status: 'error', message, code: described.code, error });
  }

  cancel(reason?: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason ?? cancelledError());
    this.error(AtmosphereErrorLike.isCancelled(reason) ? reason : cancelledError(reason));
  }

  /**
   * Stops the answer at the user's request: the terminal `complete` frame with `"reason":"stopped"` is written
   * first (the text sent so far stands, and `usage` carries the token counts reported so far, when any), then
   * `signal` aborts so the upstream model call ends. Unlike {@link cancel}, a stop is not an error.
   * Idempotent; a no-op once the session is closed.
   */
  stop(): void {
    if (this.#closed) return;
    const usage = this.#usage === undefined ? undefined : { ...this.#usage };
    this.#write(completeFrame(undefined, this.sessionId, ++this.#seq, 'stopped', usage));
    this.#close({ status: 'stopped' });
    if (!this.#controller.signal.aborted) this.#controller.abort(stoppedError());
  }

  #close(outcome: SessionOutcome): void {
    this.#closed = true;
    this.#run?.finish();
    this.#resolve(outcome);
  }
}

const AtmosphereErrorLike = {
  isCancelled(value: unknown): boolean {
    return typeof value === 'object' && value !== null && (value as { code?: unknown }).code === 'CANCELLED';
  },
};

/** A session writing to `options.sink`. See {@link createResourceSession} and {@link createBroadcasterSession}. */
export function createStreamingSession(options: StreamingSessionOptions): StreamingSession {
  return new FrameStreamingSession(options);
}
