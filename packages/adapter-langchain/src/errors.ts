import { AtmosphereError } from '@atmosphere/runtime';
import { LlmError, redactSecrets } from '@atmosphere/ai/spi';

function statusOf(error: unknown): number | undefined {
  if (error === null || typeof error !== 'object') return undefined;
  const status =
    (error as { status?: unknown }).status ?? (error as { response?: { status?: unknown } }).response?.status;
  return typeof status === 'number' ? status : undefined;
}

/**
 * A LangChain model failure as an Atmosphere error: provider HTTP errors (the integrations keep the `status`)
 * become classified {@link LlmError}s (429 rate limit, 5xx server error, others unknown), with secrets redacted
 * from the message; Atmosphere errors pass through.
 */
export function classifyModelError(error: unknown): unknown {
  if (AtmosphereError.isInstance(error)) return error;
  const status = statusOf(error);
  const detail = redactSecrets(error instanceof Error ? error.message || error.name : String(error), []);
  if (status === 429)
    return new LlmError('rate_limit', `The model provider refused the request (429 rate limit): ${detail}`, {
      cause: error,
    });
  if (status !== undefined && status >= 500)
    return new LlmError('server_error', `The model provider failed (${status}): ${detail}`, { cause: error });
  if (error instanceof Error && error.name === 'TimeoutError')
    return new LlmError('timeout', `The model call timed out: ${detail}`, { cause: error });
  return new LlmError(
    'unknown',
    `The LangChain model call failed${status === undefined ? '' : ` (${status})`}: ${detail}`,
    { cause: error, retryable: false },
  );
}
