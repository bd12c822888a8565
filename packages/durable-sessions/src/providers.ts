import type { ConversationMemory } from '@atmosphere/ai/spi';
import type {
  Availability,
  Provider,
  ProviderContext,
  SessionStore,
  StreamLog,
} from '@atmosphere/runtime/spi';
import {
  DURABLE_KINDS,
  DURABLE_PRIORITIES,
  type DurableKind,
  type DurableOptions,
  REDIS_URL_ENV,
  resolveRedisUrl,
  resolveSqlitePath,
  SQLITE_PATH_ENV,
  type Sourced,
} from './config.ts';
import { RedisConversationMemory } from './memory/redis-conversation-memory.ts';
import { SqliteConversationMemory } from './memory/sqlite-conversation-memory.ts';
import { closeRedis, connectRedis, loadIoredis, redactUrl } from './redis/connection.ts';
import { RedisStreamLog } from './redis/redis-stream-log.ts';
import { RedisSessionStore } from './sessions/redis-session-store.ts';
import { SqliteSessionStore } from './sessions/sqlite-session-store.ts';
import { loadBetterSqlite3, openSqliteFile } from './sqlite/database.ts';
import { SqliteStreamLog } from './sqlite/sqlite-stream-log.ts';

type DurableInstance = StreamLog | SessionStore | ConversationMemory;

const PURPOSE: Record<DurableKind, string> = {
  'stream-log': 'durable stream log',
  'session-store': 'durable session store',
  'conversation-memory': 'durable conversation memory',
};

/** How a family of providers finds its configuration. */
interface Mode {
  /** The register entry: SQLite falls back to its default file, and is required only when named. */
  readonly fromEnvironment: boolean;
}

function sqliteProvider(kind: DurableKind, options: DurableOptions, mode: Mode): Provider {
  let required = !mode.fromEnvironment;
  const target = (context: ProviderContext): Sourced<string> | undefined =>
    resolveSqlitePath(options, context.env, mode.fromEnvironment);
  const provider = {
    kind,
    name: 'sqlite',
    priority: DURABLE_PRIORITIES.sqlite,
    get required(): boolean {
      return required;
    },
    async isAvailable(context: ProviderContext): Promise<Availability> {
      const file = target(context);
      if (file === undefined)
        return {
          available: false,
          reason: `${SQLITE_PATH_ENV} is ${context.env[SQLITE_PATH_ENV] ? `'${context.env[SQLITE_PATH_ENV]}'` : 'not set'}; set it to a file path to keep ${kind} on SQLite`,
        };
      // Named explicitly (option or variable): a failure to open stops startup. The default file is a
      // convenience: without better-sqlite3 the memory store is used and the startup line says why.
      required = file.source !== undefined && !file.source.startsWith('the default');
      if (!required) {
        try {
          await loadBetterSqlite3();
        } catch (error) {
          return { available: false, reason: (error as Error).message };
        }
      }
      return true;
    },
    async create(context: ProviderContext): Promise<DurableInstance> {
      const file = target(context)!;
      const Database = await loadBetterSqlite3();
      const database = openSqliteFile(Database, file.value, PURPOSE[kind], file.source);
      context.logger.info(`durable-sessions: ${kind} on SQLite file ${file.value} (from ${file.source})`);
      try {
        switch (kind) {
          case 'stream-log':
            return new SqliteStreamLog(database, {
              ownsDatabase: true,
              ...(options.log ? { limits: options.log } : {}),
            });
          case 'session-store':
            return new SqliteSessionStore(database, {
              ownsDatabase: true,
              ...(options.sessions ? { limits: options.sessions } : {}),
            });
          case 'conversation-memory':
            return new SqliteConversationMemory(database, {
              ownsDatabase: true,
              ...(options.conversations ? { limits: options.conversations } : {}),
            });
        }
      } catch (error) {
        database.close();
        throw error;
      }
    },
  };
  return provider;
}

function redisProvider(kind: DurableKind, options: DurableOptions): Provider {
  const provider = {
    kind,
    name: 'redis',
    priority: DURABLE_PRIORITIES.redis,
    required: true,
    isAvailable(context: ProviderContext): Availability {
      if (resolveRedisUrl(options, context.env) === undefined)
        return {
          available: false,
          reason: `${REDIS_URL_ENV} is not set; set it (redis://host:6379) to share ${kind} between nodes`,
        };
      return true;
    },
    async create(context: ProviderContext): Promise<DurableInstance> {
      const url = resolveRedisUrl(options, context.env)!;
      const Redis = await loadIoredis();
      const connection = await connectRedis(Redis, url.value, {
        source: url.source,
        purpose: PURPOSE[kind],
        timeoutMs: options.startTimeoutMs ?? 10_000,
        logger: context.logger,
        // The log writes a turn's appends in one script call per stream itself, at once.
        autoPipelining: kind !== 'stream-log',
      });
      context.logger.info(`durable-sessions: ${kind} on Redis ${redactUrl(url.value)} (from ${url.source})`);
      const common = {
        ...(options.prefix !== undefined ? { prefix: options.prefix } : {}),
        onClose: () => closeRedis(connection),
      };
      switch (kind) {
        case 'stream-log': {
          const log = new RedisStreamLog(connection, {
            ...common,
            logger: context.logger,
            ...(options.log ? { limits: options.log } : {}),
          });
          await log.ready();
          return log;
        }
        case 'session-store':
          return new RedisSessionStore(connection, {
            ...common,
            ...(options.sessions ? { limits: options.sessions } : {}),
          });
        case 'conversation-memory':
          return new RedisConversationMemory(connection, {
            ...common,
            ...(options.conversations ? { limits: options.conversations } : {}),
          });
      }
    },
  };
  return provider;
}

/**
 * The durable stores as providers, for `createAtmosphere({ providers: durable({ sqlite: './data/app.sqlite' }) })`
 * (one node) or `durable({ redis: 'redis://redis:6379' })` (a cluster): a stream log, a session store and a
 * conversation memory on the same storage. A store named here (or by `ATMOSPHERE_DURABLE_SQLITE` /
 * `ATMOSPHERE_REDIS_URL` when the option is absent) is required: if it cannot be opened — a corrupt or
 * unwritable file, Redis down — `createAtmosphere()` rejects with an error naming the file or URL and the fix,
 * rather than silently keeping state in memory.
 */
export function durable(options: DurableOptions = {}): Provider[] {
  const kinds = options.kinds ?? DURABLE_KINDS;
  return kinds.flatMap((kind) => [
    sqliteProvider(kind, options, { fromEnvironment: false }),
    redisProvider(kind, options),
  ]);
}

/**
 * What the `register` entry registers: SQLite on `ATMOSPHERE_DURABLE_SQLITE`, or by default on
 * `.atmosphere/durable.sqlite` under the current directory when better-sqlite3 is installed
 * (`ATMOSPHERE_DURABLE_SQLITE=off` turns it off); Redis when `ATMOSPHERE_REDIS_URL` is set.
 */
export function durableFromEnvironment(): Provider[] {
  return DURABLE_KINDS.flatMap((kind) => [
    sqliteProvider(kind, {}, { fromEnvironment: true }),
    redisProvider(kind, {}),
  ]);
}
