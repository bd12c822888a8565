import { AtmosphereError } from '../errors.ts';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import type { AtmosphereInterceptor } from '../spi/interceptor.ts';
import type { ProtocolRequest } from '../spi/request.ts';

export type TokenSource = 'header' | 'query' | 'first-message';

export interface AuthOptions {
  /**
   * Checks a token. Return who the client is (any truthy value, kept as `resource.principal`); return a
   * falsy value or throw to refuse. Throw an `AtmosphereError` with code `UNAUTHORIZED` and headers
   * `X-Atmosphere-Auth-Expired: true` or `X-Atmosphere-Auth-Refresh` to tell the client more.
   */
  verify(token: string, request: ProtocolRequest): unknown;
  /**
   * Where a token may come from: the `X-Atmosphere-Auth` (or `Authorization: Bearer`) header, the
   * `X-Atmosphere-Auth` query parameter, or the first WebSocket message. Default: all three.
   */
  from?: readonly TokenSource[];
  /** How long a WebSocket may wait before sending its token message. Default 10 000 ms. */
  firstMessageTimeoutMs?: number;
}

function unauthorized(message: string, cause?: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(cause) && (cause.code === 'UNAUTHORIZED' || cause.status === 401))
    return cause;
  return new AtmosphereError('UNAUTHORIZED', message, { status: 401, cause });
}

/** Where the token came from, for the given sources. */
export function findToken(request: ProtocolRequest, from: readonly TokenSource[]): string | undefined {
  if (from.includes('query')) {
    const fromQuery = request.queryParam(AtmosphereHeaders.auth);
    if (fromQuery) return fromQuery;
  }
  if (from.includes('header')) {
    const header = request.headers[AtmosphereHeaders.auth.toLowerCase()];
    const value = Array.isArray(header) ? header[0] : header;
    if (value) return value;
    const authorization = request.headers.authorization;
    if (authorization?.toLowerCase().startsWith('bearer ')) return authorization.slice(7).trim();
  }
  return undefined;
}

/** The auth hook: 401 on connect without a valid token, or 4401 after a bad first message. */
export function authInterceptor(options: AuthOptions): AtmosphereInterceptor {
  const from = options.from ?? ['header', 'query', 'first-message'];
  const verify = async (token: string, request: ProtocolRequest): Promise<unknown> => {
    let principal: unknown;
    try {
      principal = await options.verify(token, request);
    } catch (error) {
      throw unauthorized('The auth token was refused.', error);
    }
    if (!principal) throw unauthorized('The auth token was refused.');
    return principal;
  };
  return {
    name: 'auth',
    async onConnect(context) {
      const token = findToken(context.request, from);
      if (token !== undefined) {
        context.principal = await verify(token, context.request);
        return;
      }
      if (context.upgrade && from.includes('first-message')) {
        context.authenticateFirstMessage = (message) => verify(message, context.request);
        return;
      }
      throw unauthorized(
        `No auth token: send it in the ${AtmosphereHeaders.auth} header or query parameter${from.includes('first-message') ? ', or as the first WebSocket message' : ''}.`,
      );
    },
  };
}

export const DEFAULT_FIRST_MESSAGE_TIMEOUT_MS = 10_000;
