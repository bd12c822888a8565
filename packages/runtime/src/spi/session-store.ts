/**
 * The session-store SPI (provider kind `session-store`): what a durable session is and where it is kept, so
 * that a client that comes back with its token — to this process, another node, a restarted server — gets
 * its identity, rooms and subscriptions back and resumes each stream from its cursor (DURABILITY.md §5).
 * The memory store is the runtime's default; SQLite and Redis stores live in `@atmosphere/durable-sessions`
 * and run the same contract suite (`@atmosphere/runtime/testing/session-store-contract`).
 */

import type { StreamPosition } from '@atmosphere/protocol';
import type { Awaitable } from './stream-log.ts';

/** A stream the session is subscribed to, with the position of the last message it was given. */
export interface SessionSubscription {
  /** The stream (broadcaster id, AI run stream, room stream). */
  readonly stream: string;
  /** The last position delivered to the session on that stream; absent before the first message. */
  readonly cursor?: StreamPosition;
}

/** What a session holds besides its token and times. Every field is JSON. */
export interface SessionData {
  /** Who the session belongs to (the authenticated principal), when known. */
  readonly identity?: string;
  /** The auth context the application attached (claims, roles). */
  readonly auth?: Readonly<Record<string, unknown>>;
  /** The `Origin` the session was created from; a token presented from another origin is refused. */
  readonly origin?: string;
  /** Rooms joined, by name. */
  readonly rooms: readonly string[];
  /** Streams subscribed to, with their cursors. */
  readonly subscriptions: readonly SessionSubscription[];
  /** Anything else the application keeps per session. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** A stored session. */
export interface SessionRecord extends SessionData {
  /** The session token: at least 128 random bits, URL-safe. */
  readonly token: string;
  /** ms since the Unix epoch, by the store's clock. */
  readonly createdAt: number;
  readonly updatedAt: number;
  /** When the session expires unless it is used again (every `update`/`touch` moves it to now + TTL). */
  readonly expiresAt: number;
}

/** Fields to change in an update; absent fields are kept. */
export type SessionChanges = Partial<SessionData>;

/** The size limits every store enforces (the same defaults everywhere). */
export interface SessionLimits {
  /** Time to live since the last use, in ms. Default 86 400 000 (24 h). */
  ttlMs: number;
  /** Rooms per session. Default 256. */
  maxRooms: number;
  /** Subscriptions per session. Default 256. */
  maxSubscriptions: number;
  /** Bytes of the JSON of `auth`, `metadata` and `identity` together. Default 16 384. */
  maxDataBytes: number;
}

/** Defaults of {@link SessionLimits}. */
export const DEFAULT_SESSION_LIMITS: Readonly<SessionLimits> = Object.freeze({
  ttlMs: 86_400_000,
  maxRooms: 256,
  maxSubscriptions: 256,
  maxDataBytes: 16_384,
});

/** The pattern of a well-formed token: 22 to 128 URL-safe characters (at least 128 bits in base64url). */
export { SESSION_TOKEN_PATTERN } from '@atmosphere/protocol';

/**
 * A store of sessions. Contract (checked by the contract suite against the real store):
 * - `create` makes a session with a new token (≥ 128 random bits, matching {@link SESSION_TOKEN_PATTERN}) that
 *   expires `limits.ttlMs` after now;
 * - `get` returns exactly what was stored, or `undefined` for an unknown, malformed, deleted or expired token
 *   (it never throws for a bad token: telling "forged" from "expired" is the caller's business);
 * - `update` replaces the given fields, keeps the others, moves `expiresAt` to now + TTL and returns the
 *   result (`undefined` when the session does not exist); `touch` only moves `expiresAt`;
 * - `create`/`update` beyond a limit fail with an `AtmosphereError` of code `SESSION_TOO_LARGE` naming the
 *   limit, and change nothing;
 * - a durable store keeps sessions across a restart; `sweep` removes expired ones;
 * - after `close()`, every call fails with an `AtmosphereError` of code `CLOSED`.
 */
export interface SessionStore {
  readonly name: string;
  /** True when sessions survive the process (SQLite, Redis). */
  readonly durable: boolean;
  /** True when several nodes share the sessions (Redis). */
  readonly shared: boolean;
  readonly limits: Readonly<SessionLimits>;
  create(data?: Partial<SessionData>): Awaitable<SessionRecord>;
  get(token: string): Awaitable<SessionRecord | undefined>;
  update(token: string, changes: SessionChanges): Awaitable<SessionRecord | undefined>;
  touch(token: string): Awaitable<boolean>;
  delete(token: string): Awaitable<void>;
  /** Removes expired sessions; the runtime calls it about once a second (stores may do less). */
  sweep?(now: number): Awaitable<void>;
  /** Releases the store's resources. A connection passed in by the application stays open. */
  close(): Promise<void>;
}
