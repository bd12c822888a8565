import { resolve } from 'node:path';
import type { SessionLimits } from '@atmosphere/runtime/spi';
import type { ConversationLimits } from './memory/conversation-limits.ts';
import type { RedisStreamLogLimits } from './redis/redis-stream-log.ts';
import type { SqliteStreamLogLimits } from './sqlite/sqlite-stream-log.ts';

/** The environment variable naming the SQLite file of the durable stores (`off` turns SQLite off). */
export const SQLITE_PATH_ENV = 'ATMOSPHERE_DURABLE_SQLITE';
/** The environment variable naming the Redis of a cluster (shared with `@atmosphere/redis`). */
export const REDIS_URL_ENV = 'ATMOSPHERE_REDIS_URL';
/** The SQLite file used when the package is installed and neither options nor environment name one. */
export const DEFAULT_SQLITE_PATH = '.atmosphere/durable.sqlite';
/** Priorities: memory (the runtime's and `@atmosphere/ai`'s) 0 < SQLite 10 < Redis 20. */
export const DURABLE_PRIORITIES = Object.freeze({ sqlite: 10, redis: 20 });

/** Options of {@link durable}. Give `sqlite` (one node) or `redis` (a cluster), or neither to use the environment. */
export interface DurableOptions {
  /**
   * The SQLite file every store keeps its tables in (created with its folder when missing). Default:
   * `ATMOSPHERE_DURABLE_SQLITE`.
   */
  readonly sqlite?: string;
  /**
   * The Redis every store keeps its keys in, `redis://[user:password@]host:port[/db]` or `rediss://`. Default:
   * `ATMOSPHERE_REDIS_URL`. When both are given, Redis wins (priority 20 over 10) and SQLite is not opened.
   */
  readonly redis?: string;
  /** Prefix of every Redis key. Default `atmosphere:`. */
  readonly prefix?: string;
  /** Limits of the stream log. */
  readonly log?: Partial<SqliteStreamLogLimits & RedisStreamLogLimits>;
  /** Limits of the session store (TTL 24 h, 256 rooms, 256 subscriptions, 16 KiB of data by default). */
  readonly sessions?: Partial<SessionLimits>;
  /** Limits of the conversation memory (20 messages, 24 h by default). */
  readonly conversations?: Partial<ConversationLimits>;
  /** Which kinds to provide. Default all three. */
  readonly kinds?: readonly DurableKind[];
  /** How long startup waits for Redis. Default 10 000 ms. */
  readonly startTimeoutMs?: number;
}

/** The kinds this package provides. */
export type DurableKind = 'stream-log' | 'session-store' | 'conversation-memory';

/** All of them. */
export const DURABLE_KINDS: readonly DurableKind[] = Object.freeze([
  'stream-log',
  'session-store',
  'conversation-memory',
]);

/** Where a setting came from, for messages and the startup line. */
export interface Sourced<T> {
  readonly value: T;
  readonly source: string;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** True for the values that turn SQLite off: `off`, `false`, `0`, `none`. */
export function isOff(value: string): boolean {
  return ['off', 'false', '0', 'none', 'no'].includes(value.toLowerCase());
}

/**
 * The SQLite file to use: the option, then `ATMOSPHERE_DURABLE_SQLITE`, then (when `fallback`) the default
 * file under the current directory. `undefined` when none applies or the variable says `off`.
 */
export function resolveSqlitePath(
  options: DurableOptions,
  env: Readonly<Record<string, string | undefined>>,
  fallback: boolean,
): Sourced<string> | undefined {
  const fromOptions = text(options.sqlite);
  if (fromOptions !== undefined) return { value: fromOptions, source: 'durable({ sqlite })' };
  const fromEnv = text(env[SQLITE_PATH_ENV]);
  if (fromEnv !== undefined) return isOff(fromEnv) ? undefined : { value: fromEnv, source: SQLITE_PATH_ENV };
  if (!fallback) return undefined;
  return {
    value: resolve(DEFAULT_SQLITE_PATH),
    source: `the default (${DEFAULT_SQLITE_PATH} under the current directory)`,
  };
}

/** The Redis URL to use: the option, then `ATMOSPHERE_REDIS_URL`; `undefined` when neither. */
export function resolveRedisUrl(
  options: DurableOptions,
  env: Readonly<Record<string, string | undefined>>,
): Sourced<string> | undefined {
  const fromOptions = text(options.redis);
  if (fromOptions !== undefined) return { value: fromOptions, source: 'durable({ redis })' };
  const fromEnv = text(env[REDIS_URL_ENV]);
  if (fromEnv !== undefined) return { value: fromEnv, source: REDIS_URL_ENV };
  return undefined;
}

declare module '@atmosphere/runtime' {
  /** Error codes raised by `@atmosphere/durable-sessions`. */
  interface AtmosphereErrorCodes {
    /** A conversation-memory store (SQLite, Redis) failed to read or write. */
    MEMORY_FAILED: true;
    /** A session store (SQLite, Redis) failed to read or write. */
    SESSION_STORE_FAILED: true;
  }
}
