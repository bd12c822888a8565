import { addUsage, type TokenUsage } from '../spi/chat.ts';
import type { AiEvent } from '@atmosphere/protocol';
import type { SessionOutcome, StreamingSession } from '../streaming/streaming-session.ts';
import type { StructuredCapture } from '../structured/structured-output.ts';
import type { RunMeasure } from '../telemetry/ai-telemetry.ts';

/**
 * The session a runtime writes to inside the pipeline: it forwards every frame to the real session, keeps
 * the answer's text and usage, feeds structured output, and holds back `complete` so the pipeline can run
 * `beforeCompletion` interceptors (and validate structured output) before the real `complete` frame.
 */
export class PipelineSession implements StreamingSession {
  readonly #target: StreamingSession;
  readonly #capture: StructuredCapture | undefined;
  /** The run's measure: told the seq of each text frame sent, for paint timing reports. */
  readonly #measure: RunMeasure | undefined;
  #text = '';
  /** `performance.now()` of the first text (0: none yet), for the time-to-first-token measure. */
  #firstTextAt = 0;
  #usage: TokenUsage | undefined;
  #ended:
    { status: 'complete'; summary: string | undefined } | { status: 'error'; error: unknown } | undefined;

  constructor(target: StreamingSession, capture?: StructuredCapture, measure?: RunMeasure) {
    this.#target = target;
    this.#capture = capture;
    this.#measure = measure;
  }

  get sessionId(): string {
    return this.#target.sessionId;
  }

  get runId(): string {
    return this.#target.runId;
  }

  get seq(): number {
    return this.#target.seq;
  }

  get closed(): boolean {
    return this.#ended !== undefined || this.#target.closed;
  }

  get signal(): AbortSignal {
    return this.#target.signal;
  }

  get done(): Promise<SessionOutcome> {
    return this.#target.done;
  }

  /** The text streamed so far. */
  get text(): string {
    return this.#text;
  }

  /** `performance.now()` when the first text was sent, or 0. */
  get firstTextAt(): number {
    return this.#firstTextAt;
  }

  get totalUsage(): TokenUsage | undefined {
    return this.#usage;
  }

  /** How the runtime ended the session (undefined: it did not). */
  get ended():
    { status: 'complete'; summary: string | undefined } | { status: 'error'; error: unknown } | undefined {
    return this.#ended;
  }

  send(text: string): void {
    if (this.closed || text.length === 0) return;
    if (this.#firstTextAt === 0) this.#firstTextAt = performance.now();
    this.#text += text;
    this.#target.send(text);
    this.#measure?.sent(this.#target.seq);
    this.#capture?.push(text);
  }

  progress(message: string): void {
    if (!this.closed) this.#target.progress(message);
  }

  metadata(key: string, value: unknown): void {
    if (!this.closed) this.#target.metadata(key, value);
  }

  usage(tokens: TokenUsage): void {
    if (this.closed) return;
    this.#usage = addUsage(this.#usage, tokens);
    this.#target.usage(tokens);
  }

  emit(event: AiEvent): void {
    if (!this.closed) this.#target.emit(event);
  }

  toolCallDelta(id: string, chunk: string): void {
    if (!this.closed) this.#target.toolCallDelta(id, chunk);
  }

  complete(summary?: string): void {
    if (this.closed) return;
    this.#ended = { status: 'complete', summary };
  }

  error(error: unknown): void {
    if (this.closed) return;
    this.#ended = { status: 'error', error };
    this.#target.error(error);
  }

  cancel(reason?: unknown): void {
    this.#target.cancel(reason);
  }
}
