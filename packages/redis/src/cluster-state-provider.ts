import { AtmosphereError } from '@atmosphere/runtime';
import type { Availability, Provider } from '@atmosphere/runtime/spi';
import { loadIoredis, reconnectDelay, type RedisClientLike } from './connection.ts';
import { checkRedisUrl, DEFAULT_REDIS_URL, REDIS_URL_ENV } from './provider.ts';
import { type ClusterStateConnection, RedisClusterState } from './redis-cluster-state.ts';

/** Options of {@link redisClusterState}. */
export interface RedisClusterStateOptions {
  /**
   * The Redis that holds the cluster's leases and room membership. Default: the `url` setting
   * (`settings: { 'cluster-state': { url } }`), then `ATMOSPHERE_REDIS_URL`, then `redis://127.0.0.1:6379`.
   */
  url?: string;
  /** An ioredis client whose settings are copied (`duplicate()`) for the two connections, instead of `url`. */
  client?: RedisClientLike;
  /** Prefix of every key and of the change channel; nodes of one cluster share it. Default `atmosphere:cluster:`. */
  keyPrefix?: string;
  /**
   * This node's id. Default: random per process. A stable id (a pod name) lets a restarted node drop what its
   * previous run left at once, instead of when that run's lease expires.
   */
  nodeId?: string;
  /**
   * How long a node's lease lasts without renewal, in ms: a killed node's members leave within this plus a
   * quarter of it. Default 10 000 (members leave within 12.5 s).
   */
  leaseMs?: number;
}

/**
 * Room membership, presence and exactly-once work shared through Redis, as a provider of kind `cluster-state`
 * (name `redis`, priority 10, over the runtime's one-node `memory`): `createAtmosphere({ providers:
 * [redisBackplane({ url }), redisClusterState({ url })] })`. `createAtmosphere()` resolves once the node holds
 * its lease and hears the cluster's changes.
 */
export function redisClusterState(options: RedisClusterStateOptions = {}): Provider<'cluster-state'> {
  return {
    kind: 'cluster-state',
    name: 'redis',
    priority: 10,
    required: true,
    isAvailable: (): Availability => true,
    async create(context): Promise<RedisClusterState> {
      let connect: (role: string) => ClusterStateConnection;
      const overrides = (role: string): Record<string, unknown> => ({
        lazyConnect: true,
        connectionName: `atmosphere-cluster-${role}`,
        enableOfflineQueue: true,
        maxRetriesPerRequest: 2,
      });
      if (options.client !== undefined) {
        if (options.url !== undefined)
          throw new AtmosphereError(
            'INVALID_OPTION',
            'redisClusterState() takes a url or a client to duplicate, not both; drop one of them.',
          );
        const client = options.client as unknown as {
          duplicate(o: Record<string, unknown>): ClusterStateConnection;
        };
        connect = (role) => client.duplicate(overrides(role));
      } else {
        const setting = context.settings['url'];
        const env = context.env[REDIS_URL_ENV];
        const [url, source] =
          options.url !== undefined
            ? [options.url, 'redisClusterState({ url })']
            : typeof setting === 'string' && setting !== ''
              ? [setting, "settings['cluster-state'].url"]
              : env !== undefined && env !== ''
                ? [env, REDIS_URL_ENV]
                : [DEFAULT_REDIS_URL, 'the default'];
        const problem = checkRedisUrl(url, source);
        if (problem !== undefined) throw new AtmosphereError('INVALID_OPTION', `${problem}.`);
        const Redis = (await loadIoredis()) as unknown as new (
          url: string,
          o: Record<string, unknown>,
        ) => ClusterStateConnection;
        connect = (role) => new Redis(url, { ...overrides(role), retryStrategy: reconnectDelay });
      }
      const state = new RedisClusterState({
        connect,
        keyPrefix: options.keyPrefix,
        nodeId: options.nodeId,
        leaseMs: options.leaseMs,
        logger: context.logger,
      });
      try {
        await state.start();
      } catch (error) {
        await state.close();
        throw error;
      }
      return state;
    },
  };
}
