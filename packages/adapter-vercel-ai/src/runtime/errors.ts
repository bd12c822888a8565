import { cancelledError, LlmError } from '@atmosphere/ai/spi';
import { APICallError, RetryError } from 'ai';

/** The HTTP status of a provider failure (an `APICallError`, or the last one a `RetryError` saw). */
function statusOf(error: unknown): number | undefined {
  if (APICallError.isInstance(error)) return error.statusCode;
  if (RetryError.isInstance(error)) return statusOf(error.lastError);
  return undefined;
}

/**
 * An AI SDK failure as Atmosphere classifies provider errors (the `error` frame's code): 408/timeouts
 * `LLM_TIMEOUT`, 429 `LLM_RATE_LIMIT`, 5xx `LLM_SERVER_ERROR`, anything else `LLM_FAILED`. An abort becomes
 * `CANCELLED`.
 */
export function classifyError(error: unknown, signal: AbortSignal): unknown {
  if (signal.aborted) return cancelledError(signal.reason);
  if (error instanceof Error && (error.name === 'AbortError' || error.name === 'TimeoutError'))
    return error.name === 'TimeoutError'
      ? new LlmError('timeout', `The model did not answer in time: ${error.message}`, { cause: error })
      : cancelledError(error);
  const status = statusOf(error);
  const message = error instanceof Error ? error.message : String(error);
  if (status === undefined) {
    if (RetryError.isInstance(error) || APICallError.isInstance(error))
      return new LlmError('unknown', `The model call failed: ${message}`, { cause: error });
    return error;
  }
  const kind =
    status === 408 ? 'timeout' : status === 429 ? 'rate_limit' : status >= 500 ? 'server_error' : 'unknown';
  return new LlmError(kind, `The model call failed (HTTP ${status}): ${message}`, {
    cause: error,
    retryable: false,
  });
}
