import { AtmosphereHeaders, type ClientTransportName } from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';

/** The error for a non-2xx answer, with the server's `X-Atmosphere-error` text when it sent one. */
export function httpError(
  transport: ClientTransportName | 'post',
  response: Response,
): AtmosphereClientError {
  const reason = response.headers.get(AtmosphereHeaders.error);
  return new AtmosphereClientError(
    'HTTP_ERROR',
    `The server answered ${transport === 'post' ? 'a posted message' : `the ${transport} request`} with HTTP ${response.status}${reason ? `: ${reason}` : ''}.`,
    { status: response.status },
  );
}

/** The error for a connection that could not be made or was lost; `opened` says which. */
export function networkError(
  transport: ClientTransportName,
  opened: boolean,
  cause?: unknown,
): AtmosphereClientError {
  const detail = cause instanceof Error && cause.message ? ` (${cause.message})` : '';
  return opened
    ? new AtmosphereClientError('CONNECTION_LOST', `The ${transport} connection was lost${detail}.`, {
        cause,
      })
    : new AtmosphereClientError(
        'TRANSPORT_FAILED',
        `The ${transport} connection could not be opened${detail}.`,
        { cause },
      );
}

/** The fetch `credentials` mode for `withCredentials`. */
export function credentials(withCredentials: boolean): RequestCredentials {
  return withCredentials ? 'include' : 'same-origin';
}

/** True for the error fetch raises when its signal aborted. */
export function isAbort(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError';
}
