import { AtmosphereError } from '../errors.ts';
import type {
  SessionChanges,
  SessionData,
  SessionLimits,
  SessionRecord,
  SessionStore,
} from '../spi/session-store.ts';
import {
  isSessionToken,
  mergeSessionData,
  newSessionToken,
  sessionLimits,
  sessionRecord,
} from './session-data.ts';

/** Options of the memory session store. */
export interface MemorySessionStoreOptions {
  /** Size and time limits (defaults: `DEFAULT_SESSION_LIMITS`). */
  readonly limits?: Partial<SessionLimits>;
  /** Sessions kept at most; past it, the least recently used is dropped. Default 100 000. */
  readonly maxSessions?: number;
  /** The clock, in ms since the Unix epoch. Default `Date.now`. */
  readonly now?: () => number;
}

/**
 * Sessions in this process's memory: the runtime's default. A restart forgets every session (a client that
 * comes back with its token is refused, and starts a new session). Calls answer synchronously.
 */
export class MemorySessionStore implements SessionStore {
  readonly name = 'memory';
  readonly durable = false;
  readonly shared = false;
  readonly limits: Readonly<SessionLimits>;
  readonly maxSessions: number;
  readonly #now: () => number;
  /** Least recently used first (a Map keeps insertion order: re-inserted on use). */
  readonly #sessions = new Map<string, SessionRecord>();
  #closed = false;

  constructor(options: MemorySessionStoreOptions = {}) {
    this.limits = sessionLimits(options.limits);
    this.maxSessions = options.maxSessions ?? 100_000;
    this.#now = options.now ?? Date.now;
  }

  /** Sessions held (expired ones included until the next sweep). */
  get size(): number {
    return this.#sessions.size;
  }

  create(data: Partial<SessionData> = {}): SessionRecord {
    this.#assertOpen();
    const merged = mergeSessionData(undefined, data, this.limits);
    const now = this.#now();
    const record = sessionRecord(newSessionToken(), merged, now, now, this.limits.ttlMs);
    if (this.#sessions.size >= this.maxSessions) {
      const oldest = this.#sessions.keys().next();
      if (!oldest.done) this.#sessions.delete(oldest.value);
    }
    this.#sessions.set(record.token, record);
    return structuredClone(record);
  }

  get(token: string): SessionRecord | undefined {
    this.#assertOpen();
    const record = this.#live(token);
    return record === undefined ? undefined : structuredClone(record);
  }

  update(token: string, changes: SessionChanges): SessionRecord | undefined {
    this.#assertOpen();
    const record = this.#live(token);
    if (record === undefined) return undefined;
    const merged = mergeSessionData(record, changes, this.limits);
    const next = sessionRecord(token, merged, record.createdAt, this.#now(), this.limits.ttlMs);
    this.#sessions.delete(token);
    this.#sessions.set(token, next);
    return structuredClone(next);
  }

  touch(token: string): boolean {
    this.#assertOpen();
    const record = this.#live(token);
    if (record === undefined) return false;
    const now = this.#now();
    this.#sessions.delete(token);
    this.#sessions.set(token, { ...record, updatedAt: now, expiresAt: now + this.limits.ttlMs });
    return true;
  }

  delete(token: string): void {
    this.#assertOpen();
    this.#sessions.delete(token);
  }

  sweep(now: number = this.#now()): void {
    if (this.#closed) return;
    for (const [token, record] of this.#sessions) if (record.expiresAt <= now) this.#sessions.delete(token);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#sessions.clear();
    return Promise.resolve();
  }

  #live(token: string): SessionRecord | undefined {
    if (!isSessionToken(token)) return undefined;
    const record = this.#sessions.get(token);
    if (record === undefined) return undefined;
    if (record.expiresAt <= this.#now()) {
      this.#sessions.delete(token);
      return undefined;
    }
    return record;
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The memory session store is closed.');
  }
}
