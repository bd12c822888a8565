import { describe, expect, test } from 'vitest';

/**
 * The public surface of @atmosphere/redis, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/redis public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'DEFAULT_REDIS_URL',
      'REDIS_BACKPLANE_DEFAULTS',
      'REDIS_BACKPLANE_PROVIDER',
      'REDIS_URL_ENV',
      'RedisBackplane',
      'RedisClusterState',
      'redisBackplane',
      'redisBackplaneFromEnvironment',
      'redisClusterState',
    ]);
  });
});
