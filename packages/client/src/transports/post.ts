import { AtmosphereClientError } from '../errors.ts';
import type { OutgoingBody } from '../core/offline-queue.ts';
import { credentials, httpError, isAbort } from './errors.ts';

/** The outcome of one post: sent, worth retrying (network, 404 unknown id, 429, 503), or refused for good. */
export type PostResult = { ok: true } | { ok: false; retry: boolean; error: AtmosphereClientError };

const RETRYABLE = new Set([404, 408, 425, 429, 502, 503, 504]);

/**
 * Posts one message to the connection's URL (sse, streaming and long-polling send this way). The server
 * routes it by tracking id to the connection; its answer carries no data.
 */
export async function postMessage(
  url: string,
  body: OutgoingBody,
  options: {
    headers: Readonly<Record<string, string>>;
    contentType: string | undefined;
    withCredentials: boolean;
    signal?: AbortSignal;
  },
): Promise<PostResult> {
  const binary = typeof body !== 'string';
  try {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'Content-Type': binary
          ? 'application/octet-stream'
          : (options.contentType ?? 'text/plain; charset=utf-8'),
        ...options.headers,
      },
      body,
      credentials: credentials(options.withCredentials),
      cache: 'no-store',
      ...(options.signal ? { signal: options.signal } : {}),
    });
    void response.body?.cancel().catch(() => undefined);
    if (response.ok) return { ok: true };
    const error = httpError('post', response);
    return {
      ok: false,
      retry: RETRYABLE.has(response.status),
      error: new AtmosphereClientError('SEND_FAILED', error.message, { status: response.status }),
    };
  } catch (error) {
    if (isAbort(error)) {
      return {
        ok: false,
        retry: true,
        error: new AtmosphereClientError('ABORTED', 'The post was aborted.', { cause: error }),
      };
    }
    return {
      ok: false,
      retry: true,
      error: new AtmosphereClientError(
        'SEND_FAILED',
        `A message could not be posted: ${error instanceof Error ? error.message : String(error)}.`,
        {
          cause: error,
        },
      ),
    };
  }
}
