import type { IncomingMessage } from 'node:http';
import type { ProtocolRequest } from '../spi/request.ts';
import type { SessionRecord, SessionStore } from '../spi/session-store.ts';
import { isSessionToken } from './session-data.ts';

/** The request parameter (and header) that carries the session token; `0` asks for a new session. */
export const SESSION_TOKEN_PARAMETER = 'X-Atmosphere-Session-Token';
/** The `type` of the session frame, the first message after the handshake of a client that asked for one. */
export const SESSION_FRAME_TYPE = 'atmosphere-session';

/** How a connection's session came about. */
export type SessionStatus = 'created' | 'resumed';

/**
 * Why a presented token was refused: `SESSION_INVALID` (malformed, forged, unknown or expired) or
 * `SESSION_FOREIGN_ORIGIN` (created from another origin than the request's `Origin`).
 */
export type SessionRefusal = 'SESSION_INVALID' | 'SESSION_FOREIGN_ORIGIN';

/** A session bound to a connecting request. */
export interface SessionBinding {
  readonly record: SessionRecord;
  readonly status: SessionStatus;
  /** Set when the client presented a token that was refused: it got a new session instead. */
  readonly refused?: SessionRefusal;
}

/**
 * The session frame: `{"type":"atmosphere-session","token":…,"status":"created"|"resumed","expiresAt":…}`,
 * plus `"refused":"SESSION_INVALID"|"SESSION_FOREIGN_ORIGIN"` when the token the client presented was not
 * honoured. Written right after the handshake, outside the message count, on every transport (WebSocket
 * included: browsers cannot read upgrade headers, nor the status of a refused EventSource).
 */
export function sessionFrame(binding: SessionBinding): string {
  return JSON.stringify({
    type: SESSION_FRAME_TYPE,
    token: binding.record.token,
    status: binding.status,
    expiresAt: binding.record.expiresAt,
    ...(binding.refused === undefined ? {} : { refused: binding.refused }),
  });
}

function originOf(raw: IncomingMessage): string | undefined {
  const origin = raw.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

/**
 * Binds a connecting request to its session when it asks for one (`X-Atmosphere-Session-Token`): `0` creates
 * a session (kept with the request's `Origin` and its stream), a token resumes it (refreshing its TTL). A
 * token that cannot be honoured — malformed, forged, unknown, expired, or from another origin — is refused:
 * nothing of its session is given, and the client gets a new session whose frame names the refusal, so that
 * it knows what the server held is gone (and no browser is left retrying a token it cannot see refused).
 * Returns `undefined` for a request that asks for none. Synchronous when the store is.
 */
export function bindSession(
  store: SessionStore,
  request: ProtocolRequest,
  raw: IncomingMessage,
): SessionBinding | undefined | Promise<SessionBinding | undefined> {
  const presented = request.param(SESSION_TOKEN_PARAMETER);
  if (presented === undefined || presented === '') return undefined;
  const origin = originOf(raw);
  const create = (refused?: SessionRefusal): SessionBinding | Promise<SessionBinding> =>
    then(
      store.create({
        ...(origin === undefined ? {} : { origin }),
        subscriptions: [{ stream: request.path }],
        metadata: { trackingId: request.trackingId },
      }),
      (record) => ({ record, status: 'created' as const, ...(refused === undefined ? {} : { refused }) }),
    );
  if (presented === '0') return create();
  if (!isSessionToken(presented)) return create('SESSION_INVALID');
  return then(store.get(presented), (record) => {
    if (record === undefined) return create('SESSION_INVALID');
    if (record.origin !== origin) return create('SESSION_FOREIGN_ORIGIN');
    const streams = record.subscriptions.some((s) => s.stream === request.path)
      ? record.subscriptions
      : [...record.subscriptions, { stream: request.path }];
    const updated = store.update(presented, {
      subscriptions: streams.slice(-store.limits.maxSubscriptions),
      metadata: { ...record.metadata, trackingId: request.trackingId },
    });
    return then(updated, (next) =>
      next === undefined ? create('SESSION_INVALID') : { record: next, status: 'resumed' as const },
    );
  });
}

function then<T, R>(value: T | Promise<T>, step: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(step) : step(value);
}
