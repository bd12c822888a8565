/**
 * `@atmosphere/durable-sessions`: streams, sessions and conversations that survive a restart — a stream log,
 * a session store and a conversation memory on SQLite (one node) or Redis (a cluster).
 * `createAtmosphere({ providers: durable({ sqlite: './data/app.sqlite' }) })`, or install the package and set
 * `ATMOSPHERE_DURABLE_SQLITE` / `ATMOSPHERE_REDIS_URL`.
 */
export {
  DEFAULT_SQLITE_PATH,
  DURABLE_KINDS,
  DURABLE_PRIORITIES,
  type DurableKind,
  type DurableOptions,
  REDIS_URL_ENV,
  SQLITE_PATH_ENV,
} from './config.ts';
export { type ConversationLimits, DEFAULT_CONVERSATION_LIMITS } from './memory/conversation-limits.ts';
export { RedisConversationMemory } from './memory/redis-conversation-memory.ts';
export { SqliteConversationMemory } from './memory/sqlite-conversation-memory.ts';
export { durable, durableFromEnvironment } from './providers.ts';
export {
  closeRedis,
  connectRedis,
  loadIoredis,
  type RedisCommandsLike,
  type RedisConnectionLike,
  type RedisConstructor,
} from './redis/connection.ts';
export {
  DEFAULT_REDIS_LOG_LIMITS,
  RedisStreamLog,
  type RedisStreamLogLimits,
} from './redis/redis-stream-log.ts';
export { RedisSessionStore, type RedisSessionStoreOptions } from './sessions/redis-session-store.ts';
export { SqliteSessionStore, type SqliteSessionStoreOptions } from './sessions/sqlite-session-store.ts';
export {
  loadBetterSqlite3,
  openSqliteFile,
  type SqliteConstructor,
  type SqliteDatabaseLike,
  type SqliteStatementLike,
} from './sqlite/database.ts';
export {
  DEFAULT_SQLITE_LOG_LIMITS,
  SqliteStreamLog,
  type SqliteStreamLogLimits,
} from './sqlite/sqlite-stream-log.ts';
