import type { IncomingMessage } from 'node:http';
import { AtmosphereError } from '../errors.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type { SessionRecord, SessionStore } from '../spi/session-store.ts';
import { isSessionToken } from './session-data.ts';

/** The request parameter (and header) that carries the session token; `0` asks for a new session. */
export const SESSION_TOKEN_PARAMETER = 'X-Atmosphere-Session-Token';
/** The `type` of the session frame, the first message after the handshake of a client that asked for one. */
export const SESSION_FRAME_TYPE = 'atmosphere-session';
/** WebSocket close codes of a refused session (HTTP transports get 401 / 403). */
export const SESSION_CLOSE_CODES = Object.freeze({ invalid: 4401, foreignOrigin: 4403 });

/** How a connection's session came about. */
export type SessionStatus = 'created' | 'resumed';

/** A session bound to a connecting request. */
export interface SessionBinding {
  readonly record: SessionRecord;
  readonly status: SessionStatus;
}

/**
 * The session frame: `{"type":"atmosphere-session","token":…,"status":"created"|"resumed","expiresAt":…}`,
 * written to the client before anything else (WebSocket included: browsers cannot read upgrade headers).
 */
export function sessionFrame(binding: SessionBinding): string {
  return JSON.stringify({
    type: SESSION_FRAME_TYPE,
    token: binding.record.token,
    status: binding.status,
    expiresAt: binding.record.expiresAt,
  });
}

function originOf(raw: IncomingMessage): string | undefined {
  const origin = raw.headers.origin;
  return typeof origin === 'string' && origin !== '' ? origin : undefined;
}

/**
 * The refusal of a presented token: `SESSION_INVALID` (401; WebSocket close 4401) for a malformed, forged,
 * unknown or expired token, `SESSION_FOREIGN_ORIGIN` (403; close 4403) for a token presented from another
 * origin than the one that created it. The message starts with the code (it travels as `X-Atmosphere-error`
 * and as the close reason) and says what the client does next: connect with `X-Atmosphere-Session-Token=0`.
 */
export function sessionRefusal(code: 'SESSION_INVALID' | 'SESSION_FOREIGN_ORIGIN'): AtmosphereError {
  return code === 'SESSION_INVALID'
    ? new AtmosphereError(
        'SESSION_INVALID',
        'SESSION_INVALID: the session token is unknown, expired or malformed; connect with X-Atmosphere-Session-Token=0 for a new session.',
        { status: 401 },
      )
    : new AtmosphereError(
        'SESSION_FOREIGN_ORIGIN',
        'SESSION_FOREIGN_ORIGIN: the session token belongs to another origin; connect with X-Atmosphere-Session-Token=0 for a new session.',
        { status: 403 },
      );
}

/**
 * Binds a connecting request to its session when it asks for one (`X-Atmosphere-Session-Token`): `0` creates
 * a session (kept with the request's `Origin` and its stream), a token resumes it (refreshing its TTL).
 * Returns `undefined` for a request that asks for none. Throws the refusal for a bad token. Synchronous when
 * the store is.
 */
export function bindSession(
  store: SessionStore,
  request: ProtocolRequest,
  raw: IncomingMessage,
): SessionBinding | undefined | Promise<SessionBinding | undefined> {
  const presented = request.param(SESSION_TOKEN_PARAMETER);
  if (presented === undefined || presented === '') return undefined;
  const origin = originOf(raw);
  if (presented === '0') {
    const created = store.create({
      ...(origin === undefined ? {} : { origin }),
      subscriptions: [{ stream: request.path }],
      metadata: { trackingId: request.trackingId },
    });
    return then(created, (record) => ({ record, status: 'created' as const }));
  }
  if (!isSessionToken(presented)) throw sessionRefusal('SESSION_INVALID');
  return then(store.get(presented), (record) => {
    if (record === undefined) throw sessionRefusal('SESSION_INVALID');
    if (record.origin !== origin) throw sessionRefusal('SESSION_FOREIGN_ORIGIN');
    const streams = record.subscriptions.some((s) => s.stream === request.path)
      ? record.subscriptions
      : [...record.subscriptions, { stream: request.path }];
    const updated = store.update(presented, {
      subscriptions: streams.slice(-store.limits.maxSubscriptions),
      metadata: { ...record.metadata, trackingId: request.trackingId },
    });
    return then(updated, (next) => {
      if (next === undefined) throw sessionRefusal('SESSION_INVALID');
      return { record: next, status: 'resumed' as const };
    });
  });
}

/** True for the refusals of {@link sessionRefusal}. */
export function isSessionRefusal(error: unknown): error is AtmosphereError {
  return (
    AtmosphereError.isInstance(error) &&
    (error.code === 'SESSION_INVALID' || error.code === 'SESSION_FOREIGN_ORIGIN')
  );
}

function then<T, R>(value: T | Promise<T>, step: (value: T) => R | Promise<R>): R | Promise<R> {
  return value instanceof Promise ? value.then(step) : step(value);
}
