import { AtmosphereError, type AtmosphereErrorOptions } from '@atmosphere/runtime';

declare module '@atmosphere/runtime' {
  /**
   * Error codes raised by `@atmosphere/ai`. They travel to clients in the `code` field of `error` frames, so they
   * are stable; messages may change.
   */
  interface AtmosphereErrorCodes {
    /** The prompt was refused (empty, too long, malformed). */
    INVALID_PROMPT: true;
    /**
     * A prompt's attachments were refused: not an array of image objects, a media type off the allow-list
     * (PNG, JPEG, WebP, GIF), bytes that are not base64 or not of the declared type, a URL instead of bytes, or
     * past a limit (`attachments.maxCount`, `maxBytes`, `maxTotalBytes`). Nothing of the prompt is run.
     */
    INVALID_ATTACHMENT: true;
    /** A prompt had attachments and the runtime does not declare `vision`: refused, never sent without them. */
    UNSUPPORTED_ATTACHMENT: true;
    /** An approval answer named an approval that does not exist (or is not the client's). */
    UNKNOWN_APPROVAL: true;
    /** An `X-Atmosphere-Run-Id` named a run that does not exist (any more). */
    UNKNOWN_RUN: true;
    /** The run was cancelled: the client left for good, or the application aborted it. */
    CANCELLED: true;
    /** The model did not answer in time (connect or request timeout). */
    LLM_TIMEOUT: true;
    /** The provider refused for rate or quota reasons, after the retries. */
    LLM_RATE_LIMIT: true;
    /** The provider failed (5xx, a stream cut mid-way), after the retries. */
    LLM_SERVER_ERROR: true;
    /** Any other provider failure (bad request, bad key, malformed answer). */
    LLM_FAILED: true;
    /** The model asked for tools more rounds in a row than allowed. */
    TOO_MANY_TOOL_ROUNDS: true;
    /** The structured answer was not valid JSON or did not match its schema. */
    STRUCTURED_OUTPUT_INVALID: true;
    /** Too many prompts of one client are running at once. */
    TOO_MANY_PROMPTS: true;
    /** A prompt arrived while an answer was running, and the endpoint's policy is `drop`. */
    BUSY: true;
    /** The handler or an interceptor failed. */
    AI_FAILED: true;
    /**
     * The process answering the run stopped (a crash, a restart) before the answer ended (policy `close`), or
     * its continuation after the restart passed a bound (attempts, no progress, length).
     */
    INTERRUPTED: true;
  }
}

/** The codes `@atmosphere/ai` raises (`FORBIDDEN` when a client may not do this to that run is the runtime's). */
export type AiErrorCode =
  | 'INVALID_PROMPT'
  | 'INVALID_ATTACHMENT'
  | 'UNSUPPORTED_ATTACHMENT'
  | 'UNKNOWN_APPROVAL'
  | 'UNKNOWN_RUN'
  | 'CANCELLED'
  | 'LLM_TIMEOUT'
  | 'LLM_RATE_LIMIT'
  | 'LLM_SERVER_ERROR'
  | 'LLM_FAILED'
  | 'TOO_MANY_TOOL_ROUNDS'
  | 'STRUCTURED_OUTPUT_INVALID'
  | 'TOO_MANY_PROMPTS'
  | 'BUSY'
  | 'FORBIDDEN'
  | 'AI_FAILED'
  | 'INTERRUPTED';

/** How a provider failure is classified (retry decisions, metrics, the error frame's code). */
export type LlmErrorKind = 'timeout' | 'rate_limit' | 'server_error' | 'unknown';

const KIND_CODES: Record<LlmErrorKind, AiErrorCode> = {
  timeout: 'LLM_TIMEOUT',
  rate_limit: 'LLM_RATE_LIMIT',
  server_error: 'LLM_SERVER_ERROR',
  unknown: 'LLM_FAILED',
};

/** Creates an {@link AtmosphereError} with one of the AI codes. */
export function aiError(
  code: AiErrorCode,
  message: string,
  options: AtmosphereErrorOptions = {},
): AtmosphereError {
  return new AtmosphereError(code, message, options);
}

/**
 * A failure of a model provider, classified. `retryable` says whether the built-in client would try again (it
 * already has, when this reaches the application). `status` is the provider's HTTP status when there was one.
 */
export class LlmError extends AtmosphereError {
  readonly kind: LlmErrorKind;
  readonly retryable: boolean;
  /** Delay the provider asked for (`Retry-After`), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(
    kind: LlmErrorKind,
    message: string,
    options: AtmosphereErrorOptions & { retryable?: boolean; retryAfterMs?: number | undefined } = {},
  ) {
    super(KIND_CODES[kind], message, options);
    this.name = 'LlmError';
    this.kind = kind;
    this.retryable = options.retryable ?? kind !== 'unknown';
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** The error a cancelled run ends with. */
export function cancelledError(reason?: unknown): AtmosphereError {
  const detail = typeof reason === 'string' ? reason : reason instanceof Error ? reason.message : undefined;
  return aiError('CANCELLED', detail ? `The run was cancelled: ${detail}` : 'The run was cancelled.', {
    cause: reason,
  });
}

/** The abort reason of a run the user stopped (a `CANCELLED` error: runtimes treat it as any abort). */
export function stoppedError(): AtmosphereError {
  return aiError('CANCELLED', 'The run was stopped by the user.');
}

/** True when `error` is (or wraps) an abort: a DOMException AbortError, a TimeoutError, or a CANCELLED error. */
export function isAbortError(error: unknown): boolean {
  if (AtmosphereError.isInstance(error)) return error.code === 'CANCELLED';
  return error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError');
}

/** The message and code an error frame carries for any thrown value. */
export function describeError(error: unknown): { message: string; code: string } {
  if (AtmosphereError.isInstance(error)) return { message: error.message, code: error.code };
  if (error instanceof Error) {
    if (error.name === 'AbortError') return { message: 'The run was cancelled.', code: 'CANCELLED' };
    return { message: error.message || error.name, code: 'AI_FAILED' };
  }
  return { message: typeof error === 'string' ? error : 'The run failed.', code: 'AI_FAILED' };
}
