/**
 * `@atmosphere/redis`: the Redis backplane. Broadcasts made on any node reach the subscribers of every node
 * through Redis pub/sub. `createAtmosphere({ providers: [redisBackplane({ url })] })`, or install the package
 * and set `ATMOSPHERE_REDIS_URL` (the `register` entry).
 */
export type { ConnectionOverrides, RedisClientLike, RedisConnectionLike } from './connection.ts';
export {
  DEFAULT_REDIS_URL,
  REDIS_BACKPLANE_PROVIDER,
  REDIS_URL_ENV,
  redisBackplane,
  redisBackplaneFromEnvironment,
  type RedisBackplaneOptions,
} from './provider.ts';
export { REDIS_BACKPLANE_DEFAULTS, type RedisBackplaneConfig, type RedisBackplaneStats } from './config.ts';
export { RedisBackplane } from './redis-backplane.ts';
export { redisClusterState, type RedisClusterStateOptions } from './cluster-state-provider.ts';
export {
  type ClusterStateConnection,
  RedisClusterState,
  type RedisClusterStateConfig,
} from './redis-cluster-state.ts';
