import type { AtmosphereResource } from '@atmosphere/runtime';
import { aiError } from '../errors.ts';
import type { AiResponse } from '../pipeline/ai-interceptor.ts';
import type { ChatPart } from '../spi/chat.ts';
import { FrameStreamingSession, type StreamingSessionOptions } from '../streaming/streaming-session.ts';
import type { AiSession, StreamOptions } from './ai-endpoint-options.ts';

/** @internal The endpoint's {@link AiSession}: a frame session plus the pipeline it runs. */
export class EndpointSession extends FrameStreamingSession implements AiSession {
  readonly resource: AtmosphereResource;
  readonly conversationId: string;
  readonly promptMetadata: Readonly<Record<string, unknown>>;
  readonly promptAttachments: readonly ChatPart[];
  readonly #prompt: string;
  #streaming = false;
  #charsLeft: number;
  readonly #run: (session: EndpointSession, message: string, options: StreamOptions) => Promise<AiResponse>;

  constructor(
    options: StreamingSessionOptions,
    details: {
      resource: AtmosphereResource;
      conversationId: string;
      metadata: Readonly<Record<string, unknown>>;
      prompt: string;
      attachments?: readonly ChatPart[];
      run: (session: EndpointSession, message: string, options: StreamOptions) => Promise<AiResponse>;
      /** Most characters of text this session may send (a continued run's spend cap); unbounded if absent. */
      maxChars?: number;
    },
  ) {
    super(options);
    this.resource = details.resource;
    this.conversationId = details.conversationId;
    this.promptMetadata = details.metadata;
    this.promptAttachments = details.attachments ?? [];
    this.#prompt = details.prompt;
    this.#run = details.run;
    this.#charsLeft = details.maxChars ?? Infinity;
  }

  override send(text: string): void {
    if (this.closed) return;
    this.#charsLeft -= text.length;
    if (this.#charsLeft < 0) {
      this.interrupt('the continuation reached its length limit');
      return;
    }
    super.send(text);
  }

  /** Ends the answer with a terminal `INTERRUPTED` error and aborts the model call (a continuation past a bound). */
  interrupt(why: string): void {
    this.#interrupted(
      `The answer was interrupted: its continuation after a server restart stopped (${why}). The text so far is kept; send the prompt again for a full answer.`,
    );
  }

  /**
   * Another node took the run over (this node's lease expired while it answered, and the log fenced the run):
   * ends the answer here with a terminal `INTERRUPTED` error and aborts the model call. The run goes on where
   * it was taken over; a client that re-attaches with its run id follows it there.
   */
  superseded(): void {
    this.#interrupted(
      'The answer was interrupted here: another server of the cluster took it over (this one lost its lease while it answered). Reconnect with the run id to follow it there.',
    );
  }

  #interrupted(message: string): void {
    if (this.closed) return;
    this.error(aiError('INTERRUPTED', message));
    this.cancel();
  }

  stream(message?: string, options: StreamOptions = {}): Promise<AiResponse> {
    // One pipeline per session: a second one would interleave two answers under one sessionId.
    if (this.closed || this.#streaming) {
      const reason = this.closed
        ? 'The session is already closed.'
        : 'stream() is already running for this session.';
      return Promise.resolve({ status: 'error', text: '', usage: undefined, error: new Error(reason) });
    }
    this.#streaming = true;
    return this.#run(this, message ?? this.#prompt, options);
  }
}
