import { SseParser } from '@atmosphere/protocol';
import { type Logger, silentLogger } from '@atmosphere/runtime';
import { cancelledError, LlmError, type LlmErrorKind } from '../../errors.ts';
import { redactSecrets } from './redact.ts';
import { abortableSleep, backoffDelay, type RetryOptions, retryAfterMs } from './retry.ts';
import type { ChatCompletionChunk, ChatCompletionRequest } from './wire.ts';

export interface OpenAiClientOptions {
  /** E.g. `https://api.openai.com/v1`; `/chat/completions` is appended. */
  readonly baseUrl: string;
  /** Sent as `Authorization: Bearer …`; never logged, never in an error message. */
  readonly apiKey?: string | undefined;
  readonly retry?: RetryOptions;
  /** Most time until the response headers arrive. Default 10 000 ms. */
  readonly connectTimeoutMs?: number;
  /** Most time for a whole request, streaming included. Default 120 000 ms. */
  readonly requestTimeoutMs?: number;
  /** Extra request headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** The fetch to use. Default the global one. */
  readonly fetch?: typeof fetch;
  /** Waits between retries (injectable so tests can observe the delays without waiting). */
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly random?: () => number;
  readonly logger?: Logger;
}

const TIMEOUT = Symbol('timeout');

/**
 * A chat-completions client over `fetch` with SSE parsing, for any OpenAI-compatible API (OpenAI, Gemini's
 * OpenAI endpoint, Ollama). Failures are classified ({@link LlmError}: timeout, rate_limit, server_error,
 * unknown) and retried — timeouts, 429 and 5xx, up to 3 times, 1 s doubling to 30 s with jitter, honouring
 * `Retry-After` — but only before the first chunk was handed out, so an answer is never streamed twice.
 */
export class OpenAiCompatibleClient {
  readonly baseUrl: string;
  readonly #options: OpenAiClientOptions;
  readonly #retry: Required<RetryOptions>;
  readonly #logger: Logger;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;

  constructor(options: OpenAiClientOptions) {
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.#options = options;
    this.#retry = {
      maxRetries: options.retry?.maxRetries ?? 3,
      baseDelayMs: options.retry?.baseDelayMs ?? 1_000,
      maxDelayMs: options.retry?.maxDelayMs ?? 30_000,
    };
    this.#logger = options.logger ?? silentLogger;
    this.#sleep = options.sleep ?? abortableSleep;
  }

  /** Removes the key (and key-shaped strings) from a text. */
  redact(text: string): string {
    return redactSecrets(text, [this.#options.apiKey]);
  }

  /**
   * Streams a chat completion: yields each parsed chunk, in order, until `[DONE]`. Throws an {@link LlmError}
   * (after the retries), or a `CANCELLED` error when `signal` aborts. Breaking out of the loop aborts the request.
   * `maxRetries` overrides the client's retries for this request.
   */
  async *stream(
    request: ChatCompletionRequest,
    options: { signal?: AbortSignal; maxRetries?: number } = {},
  ): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    const signal = options.signal;
    const maxRetries = options.maxRetries ?? this.#retry.maxRetries;
    for (let retry = 0; ; retry++) {
      let yielded = false;
      try {
        for await (const chunk of this.#attempt(request, signal)) {
          yielded = true;
          yield chunk;
        }
        return;
      } catch (error) {
        if (signal?.aborted) throw cancelledError(signal.reason);
        const failure =
          error instanceof LlmError
            ? error
            : new LlmError('unknown', this.redact(String((error as Error)?.message ?? error)), {
                retryable: false,
              });
        if (yielded || !failure.retryable || retry >= maxRetries) throw failure;
        const asked = failure.retryAfterMs;
        if (asked !== undefined && asked > this.#retry.maxDelayMs) throw failure;
        const delay = asked ?? backoffDelay(retry + 1, this.#retry, this.#options.random);
        this.#logger.warn(
          `LLM request failed (${failure.kind}: ${failure.message}); retry ${retry + 1}/${maxRetries} in ${delay} ms`,
        );
        try {
          await this.#sleep(delay, signal);
        } catch {
          throw cancelledError(signal?.reason);
        }
      }
    }
  }

  async *#attempt(
    request: ChatCompletionRequest,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ChatCompletionChunk, void, undefined> {
    const controller = new AbortController();
    const onAbort = (): void => controller.abort(signal?.reason);
    if (signal?.aborted) throw cancelledError(signal.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut: 'connect' | 'request' | undefined;
    const connectTimer = setTimeout(() => {
      timedOut = 'connect';
      controller.abort(TIMEOUT);
    }, this.#options.connectTimeoutMs ?? 10_000);
    const requestTimer = setTimeout(() => {
      timedOut = 'request';
      controller.abort(TIMEOUT);
    }, this.#options.requestTimeoutMs ?? 120_000);
    const timeoutError = (): LlmError =>
      new LlmError(
        'timeout',
        timedOut === 'connect'
          ? `The model API at ${this.baseUrl} did not answer within ${this.#options.connectTimeoutMs ?? 10_000} ms (option connectTimeoutMs).`
          : `The model's answer took longer than ${this.#options.requestTimeoutMs ?? 120_000} ms (option requestTimeoutMs).`,
      );
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      let response: Response;
      try {
        response = await (this.#options.fetch ?? fetch)(`${this.baseUrl}/chat/completions`, {
          method: 'POST',
          headers: {
            'Content-Type': 'application/json',
            Accept: 'text/event-stream',
            ...(this.#options.apiKey ? { Authorization: `Bearer ${this.#options.apiKey}` } : {}),
            ...this.#options.headers,
          },
          body: JSON.stringify(request),
          signal: controller.signal,
        });
      } catch (error) {
        if (timedOut) throw timeoutError();
        if (signal?.aborted) throw cancelledError(signal.reason);
        throw new LlmError(
          'server_error',
          `Could not reach the model API at ${this.baseUrl}: ${describeNetworkError(error)}`,
          { cause: error },
        );
      } finally {
        clearTimeout(connectTimer);
      }
      if (!response.ok || !response.body) throw await this.#httpError(response);
      reader = response.body.getReader();
      const decoder = new TextDecoder();
      const parser = new SseParser();
      let finished = false;
      let sawFinishReason = false;
      for (;;) {
        let read: Awaited<ReturnType<typeof reader.read>>;
        try {
          read = await reader.read();
        } catch (error) {
          if (timedOut) throw timeoutError();
          if (signal?.aborted) throw cancelledError(signal.reason);
          throw new LlmError('server_error', `The model's stream broke off: ${describeNetworkError(error)}`, {
            cause: error,
          });
        }
        const events = read.done
          ? [...parser.push(decoder.decode()), ...parser.end()]
          : parser.push(decoder.decode(read.value, { stream: true }));
        for (const event of events) {
          const data = event.data.trim();
          if (data === '[DONE]') {
            finished = true;
            break;
          }
          let chunk: ChatCompletionChunk;
          try {
            chunk = JSON.parse(data) as ChatCompletionChunk;
          } catch {
            this.#logger.warn(`LLM stream: skipped a malformed chunk: ${this.redact(data.slice(0, 120))}`);
            continue;
          }
          if (typeof chunk !== 'object' || chunk === null) continue;
          if (chunk.error) throw this.#streamError(chunk.error);
          if (chunk.choices?.some((choice) => choice.finish_reason)) sawFinishReason = true;
          yield chunk;
        }
        if (finished) return;
        if (read.done) {
          // Providers end with `[DONE]`; a stream that stops before it and before any finish_reason was cut.
          if (sawFinishReason) return;
          throw new LlmError(
            'server_error',
            "The model's stream ended before the answer was finished (the connection was cut).",
          );
        }
      }
    } finally {
      clearTimeout(connectTimer);
      clearTimeout(requestTimer);
      signal?.removeEventListener('abort', onAbort);
      if (reader) reader.cancel().catch(() => undefined);
      // Ends the HTTP request when the consumer stopped early (cancellation, an error, a break).
      if (!controller.signal.aborted) controller.abort();
    }
  }

  async #httpError(response: Response): Promise<LlmError> {
    let text = '';
    try {
      text = await response.text();
    } catch {
      // the body is only used for the message
    }
    let detail = text.slice(0, 500);
    let type: string | undefined;
    try {
      const body = JSON.parse(text) as
        | { error?: { message?: string; type?: string; code?: unknown } }
        | Array<{ error?: { message?: string } }>;
      const error = Array.isArray(body) ? body[0]?.error : body.error;
      if (error?.message) detail = error.message;
      type = (error as { type?: string } | undefined)?.type;
    } catch {
      // not JSON: keep the text
    }
    const status = response.status;
    const kind: LlmErrorKind =
      status === 429 ? 'rate_limit' : status === 408 ? 'timeout' : status >= 500 ? 'server_error' : 'unknown';
    const hint =
      status === 401 || status === 403
        ? ' Check LLM_API_KEY (or OPENAI_API_KEY / GEMINI_API_KEY).'
        : status === 404
          ? ' Check LLM_MODEL and LLM_BASE_URL.'
          : '';
    const retryAfter = retryAfterMs(response.headers);
    return new LlmError(
      kind,
      this.redact(
        `The model API answered ${status}${type ? ` (${type})` : ''}: ${detail.replace(/\.+$/, '')}.${hint}`,
      ),
      {
        status,
        retryable: kind !== 'unknown',
        retryAfterMs: retryAfter,
      },
    );
  }

  #streamError(error: NonNullable<ChatCompletionChunk['error']>): LlmError {
    const type = `${error.type ?? ''} ${String(error.code ?? '')}`.toLowerCase();
    const kind: LlmErrorKind = /rate|quota|429/.test(type)
      ? 'rate_limit'
      : /server|overload|5\d\d|unavailable/.test(type)
        ? 'server_error'
        : 'unknown';
    // An error inside a stream that already streamed cannot be retried: it is reported as it is.
    return new LlmError(
      kind,
      this.redact(`The model reported an error mid-stream: ${error.message ?? 'unknown error'}`),
      { retryable: kind !== 'unknown' },
    );
  }
}

function describeNetworkError(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
  if (cause?.code) return cause.code;
  if (cause?.message) return cause.message;
  return error instanceof Error ? error.message : String(error);
}
