import type { AtmosphereResource } from '@atmosphere/runtime';
import type { AiResponse } from '../pipeline/ai-interceptor.ts';
import { FrameStreamingSession, type StreamingSessionOptions } from '../streaming/streaming-session.ts';
import type { AiSession, StreamOptions } from './ai-endpoint-options.ts';

/** @internal The endpoint's {@link AiSession}: a frame session plus the pipeline it runs. */
export class EndpointSession extends FrameStreamingSession implements AiSession {
  readonly resource: AtmosphereResource;
  readonly conversationId: string;
  readonly promptMetadata: Readonly<Record<string, unknown>>;
  readonly #prompt: string;
  #streaming = false;
  readonly #run: (session: EndpointSession, message: string, options: StreamOptions) => Promise<AiResponse>;

  constructor(
    options: StreamingSessionOptions,
    details: {
      resource: AtmosphereResource;
      conversationId: string;
      metadata: Readonly<Record<string, unknown>>;
      prompt: string;
      run: (session: EndpointSession, message: string, options: StreamOptions) => Promise<AiResponse>;
    },
  ) {
    super(options);
    this.resource = details.resource;
    this.conversationId = details.conversationId;
    this.promptMetadata = details.metadata;
    this.#prompt = details.prompt;
    this.#run = details.run;
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
