import { backplaneContract } from '@atmosphere/runtime/testing/backplane-contract';
import { afterAll, beforeAll } from 'vitest';
import { redisBackplane } from '../src/index.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

let redis: TestRedis | undefined;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  await redis?.stop();
});

backplaneContract('redis', () => {
  if (!redis) throw new Error('redis-server did not start');
  return redisBackplane({ url: redis.url, channelPrefix: 'contract:' });
});
