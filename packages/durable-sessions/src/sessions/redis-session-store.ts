import { AtmosphereError } from '@atmosphere/runtime';
import {
  isSessionToken,
  mergeSessionData,
  newSessionToken,
  sessionLimits,
  sessionRecord,
  type SessionChanges,
  type SessionData,
  type SessionLimits,
  type SessionRecord,
  type SessionStore,
} from '@atmosphere/runtime/spi';
import type { RedisCommandsLike } from '../redis/connection.ts';
import { tokenKey } from './token-key.ts';

/** Options of {@link RedisSessionStore}. */
export interface RedisSessionStoreOptions {
  /** Prefix of every key. Default `atmosphere:`. */
  readonly prefix?: string;
  readonly limits?: Partial<SessionLimits>;
  /** The clock, in ms since the Unix epoch. Default `Date.now`. */
  readonly now?: () => number;
  /** Releases the connection on `close()` (when the store opened it). */
  readonly onClose?: () => Promise<void>;
}

interface StoredSession extends SessionData {
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly expiresAt: number;
}

function failed(operation: string, error: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(error)) return error;
  return new AtmosphereError(
    'SESSION_STORE_FAILED',
    `The Redis session store could not ${operation}: ${(error as Error).message}. Check that Redis (ATMOSPHERE_REDIS_URL / durable({ redis })) is up.`,
    { cause: error },
  );
}

/**
 * Sessions on Redis, shared by every node: one string key per session (`<prefix>session:<sha256(token)>`,
 * JSON), expiring with the session (`PXAT`). Updates are last-writer-wins per session.
 */
export class RedisSessionStore implements SessionStore {
  readonly name = 'redis';
  readonly durable = true;
  readonly shared = true;
  readonly limits: Readonly<SessionLimits>;
  readonly prefix: string;
  readonly #redis: RedisCommandsLike;
  readonly #now: () => number;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(redis: RedisCommandsLike, options: RedisSessionStoreOptions = {}) {
    this.#redis = redis;
    this.prefix = options.prefix ?? 'atmosphere:';
    this.limits = sessionLimits(options.limits);
    this.#now = options.now ?? Date.now;
    this.#onClose = options.onClose;
  }

  #key(token: string): string {
    return `${this.prefix}session:${tokenKey(token)}`;
  }

  async #write(token: string, stored: StoredSession): Promise<void> {
    try {
      await this.#redis.set(this.#key(token), JSON.stringify(stored), 'PXAT', stored.expiresAt);
    } catch (error) {
      throw failed('store a session', error);
    }
  }

  async create(data: Partial<SessionData> = {}): Promise<SessionRecord> {
    this.#assertOpen();
    const merged = mergeSessionData(undefined, data, this.limits);
    const now = this.#now();
    const { token, ...stored } = sessionRecord(newSessionToken(), merged, now, now, this.limits.ttlMs);
    await this.#write(token, stored);
    return { token, ...stored };
  }

  async get(token: string): Promise<SessionRecord | undefined> {
    this.#assertOpen();
    if (!isSessionToken(token)) return undefined;
    let text: string | null;
    try {
      text = await this.#redis.get(this.#key(token));
    } catch (error) {
      throw failed('read a session', error);
    }
    if (text === null) return undefined;
    const stored = JSON.parse(text) as StoredSession;
    if (stored.expiresAt <= this.#now()) return undefined;
    return { token, ...stored };
  }

  async update(token: string, changes: SessionChanges): Promise<SessionRecord | undefined> {
    const current = await this.get(token);
    if (current === undefined) return undefined;
    const merged = mergeSessionData(current, changes, this.limits);
    const { token: _, ...stored } = sessionRecord(
      token,
      merged,
      current.createdAt,
      this.#now(),
      this.limits.ttlMs,
    );
    await this.#write(token, stored);
    return { token, ...stored };
  }

  async touch(token: string): Promise<boolean> {
    const current = await this.get(token);
    if (current === undefined) return false;
    const now = this.#now();
    const { token: _, ...stored } = current;
    await this.#write(token, { ...stored, updatedAt: now, expiresAt: now + this.limits.ttlMs });
    return true;
  }

  async delete(token: string): Promise<void> {
    this.#assertOpen();
    if (!isSessionToken(token)) return;
    try {
      await this.#redis.del(this.#key(token));
    } catch (error) {
      throw failed('delete a session', error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The redis session store is closed.');
  }
}
