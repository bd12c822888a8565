import { randomBytes } from 'node:crypto';
import { AtmosphereError } from '../errors.ts';
import {
  DEFAULT_SESSION_LIMITS,
  SESSION_TOKEN_PATTERN,
  type SessionChanges,
  type SessionData,
  type SessionLimits,
  type SessionRecord,
  type SessionSubscription,
} from '../spi/session-store.ts';

/** A new session token: 32 random bytes (256 bits), base64url (43 characters). */
export function newSessionToken(): string {
  return randomBytes(32).toString('base64url');
}

/** True when `token` has the form of a session token (says nothing of whether it exists). */
export function isSessionToken(token: unknown): token is string {
  return typeof token === 'string' && SESSION_TOKEN_PATTERN.test(token);
}

/** The limits with their defaults filled in, checked (positive integers). */
export function sessionLimits(limits: Partial<SessionLimits> = {}): Readonly<SessionLimits> {
  const resolved = { ...DEFAULT_SESSION_LIMITS, ...limits };
  for (const [name, value] of Object.entries(resolved))
    if (!Number.isInteger(value) || value <= 0)
      throw new AtmosphereError(
        'INVALID_OPTION',
        `Session limit ${name} must be a positive integer; got ${String(value)}.`,
      );
  return Object.freeze(resolved);
}

function tooLarge(what: string): AtmosphereError {
  return new AtmosphereError('SESSION_TOO_LARGE', `The session was not stored: ${what}.`, { status: 413 });
}

function copySubscription(subscription: SessionSubscription): SessionSubscription {
  if (typeof subscription?.stream !== 'string') throw tooLarge('a subscription has no stream name');
  const cursor = subscription.cursor;
  if (cursor === undefined) return { stream: subscription.stream };
  return { stream: subscription.stream, cursor: { epoch: String(cursor.epoch), seq: Number(cursor.seq) } };
}

/**
 * Merges `changes` into `base` (absent fields kept) and checks the result against `limits`. Returns plain
 * copies (JSON round trip for `auth` and `metadata`, so later changes by the caller do not reach the store).
 * Throws `SESSION_TOO_LARGE` naming the limit exceeded.
 */
export function mergeSessionData(
  base: SessionData | undefined,
  changes: SessionChanges,
  limits: Readonly<SessionLimits>,
): SessionData {
  const rooms = [...new Set(changes.rooms ?? base?.rooms ?? [])];
  const subscriptions = (changes.subscriptions ?? base?.subscriptions ?? []).map(copySubscription);
  if (rooms.length > limits.maxRooms)
    throw tooLarge(`${rooms.length} rooms exceed maxRooms (${limits.maxRooms})`);
  if (subscriptions.length > limits.maxSubscriptions)
    throw tooLarge(
      `${subscriptions.length} subscriptions exceed maxSubscriptions (${limits.maxSubscriptions})`,
    );
  const identity = 'identity' in changes ? changes.identity : base?.identity;
  const auth = 'auth' in changes ? changes.auth : base?.auth;
  const origin = 'origin' in changes ? changes.origin : base?.origin;
  const metadata = changes.metadata ?? base?.metadata ?? {};
  const json = JSON.stringify([identity ?? null, auth ?? null, metadata]);
  if (Buffer.byteLength(json) > limits.maxDataBytes)
    throw tooLarge(
      `identity, auth and metadata take ${Buffer.byteLength(json)} bytes, over maxDataBytes (${limits.maxDataBytes})`,
    );
  const [, authCopy, metadataCopy] = JSON.parse(json) as [
    unknown,
    Record<string, unknown> | null,
    Record<string, unknown>,
  ];
  const data: { -readonly [K in keyof SessionData]: SessionData[K] } = {
    rooms,
    subscriptions,
    metadata: metadataCopy,
  };
  if (identity !== undefined) data.identity = String(identity);
  if (authCopy !== null && auth !== undefined) data.auth = authCopy;
  if (origin !== undefined) data.origin = String(origin);
  return data;
}

/** A session record made of its data and times. */
export function sessionRecord(
  token: string,
  data: SessionData,
  createdAt: number,
  now: number,
  ttlMs: number,
): SessionRecord {
  return { token, ...data, createdAt, updatedAt: now, expiresAt: now + ttlMs };
}
