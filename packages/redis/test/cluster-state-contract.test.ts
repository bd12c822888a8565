import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';
import { clusterStateContract } from '@atmosphere/runtime/testing/cluster-state-contract';
import { Redis } from 'ioredis';
import { afterAll, beforeAll } from 'vitest';
import { RedisClusterState } from '../src/index.ts';

let redis: TestRedis | undefined;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis?.stop();
});

clusterStateContract('redis', {
  create: ({ cluster, nodeId, leaseMs }) => {
    if (!redis) throw new Error('redis-server did not start');
    const url = redis.url;
    return new RedisClusterState({
      connect: () => new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 2 }),
      keyPrefix: `${cluster}:`,
      nodeId,
      leaseMs,
    });
  },
  kill: (state) => (state as RedisClusterState).abandon(),
});
