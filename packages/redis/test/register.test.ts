import { registry } from '@atmosphere/runtime/spi';
import {
  connectTestClient,
  recordingLogger,
  startForSelection,
  startTestAtmosphere,
} from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import '../src/register.ts';
import { RedisBackplane, redisClusterState } from '../src/index.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

let redis: TestRedis;

beforeAll(async () => {
  redis = await startTestRedis();
});

afterAll(async () => {
  registry.unregister('broadcaster-backplane', 'redis');
  await redis.stop();
});

const start = (env: Record<string, string>, settings?: Record<string, unknown>) =>
  startForSelection('broadcaster-backplane', env, settings);

describe('the register entry', () => {
  test('registers the redis backplane at priority 10', () => {
    expect(registry.providers('broadcaster-backplane').map((p) => [p.kind, p.name, p.priority])).toEqual([
      ['broadcaster-backplane', 'redis', 10],
    ]);
  });

  test('without ATMOSPHERE_REDIS_URL the local backplane wins, and the startup line says why', async () => {
    const { atmosphere, line } = await start({});
    try {
      expect(atmosphere.provider('broadcaster-backplane')?.name).toBe('local');
      expect(line).toBe(
        'broadcaster-backplane: local selected (highest priority of the available candidates (0)); redis: unavailable — ATMOSPHERE_REDIS_URL is not set; set it (redis://host:6379) to relay broadcasts between nodes, or pass redisBackplane({ url }) in createAtmosphere({ providers })',
      );
      const selection = atmosphere.describe().providers.find((p) => p.kind === 'broadcaster-backplane');
      expect(selection?.winner).toBe('local');
      expect(selection?.candidates.find((c) => c.name === 'redis')?.status).toBe('unavailable');
    } finally {
      await atmosphere.close();
    }
  });

  test('with ATMOSPHERE_REDIS_URL redis wins, says so, and two nodes relay through it', async () => {
    const a = await start({ ATMOSPHERE_REDIS_URL: redis.url });
    const b = await start({ ATMOSPHERE_REDIS_URL: redis.url });
    try {
      expect(a.line).toBe(
        'broadcaster-backplane: redis selected (highest priority of the available candidates (10)); local: outranked — outranked by redis (priority 10 vs 0)',
      );
      expect(a.atmosphere.describe().providers.find((p) => p.kind === 'broadcaster-backplane')?.winner).toBe(
        'redis',
      );
      const backplane = a.atmosphere.provider('broadcaster-backplane');
      expect(backplane).toBeInstanceOf(RedisBackplane);
      expect((backplane as RedisBackplane).channelPrefix).toBe('atmosphere:');
      expect(
        a.logger.lines.some((l) =>
          l.message.startsWith(
            `redis backplane: node ${(backplane as RedisBackplane).nodeId} relays through ${redis.url}`,
          ),
        ),
      ).toBe(true);
      b.atmosphere.managed('/news', {}, { codec: 'text' });
      const reader = await connectTestClient(b.atmosphere.url('/news'), 'websocket');
      await a.atmosphere.broadcast('/news', 'through the environment');
      expect(await reader.messages.next()).toBe('through the environment');
      await reader.close();
    } finally {
      await a.atmosphere.close();
      await b.atmosphere.close();
    }
  });

  test('settings give the channel prefix; a malformed ATMOSPHERE_REDIS_URL fails the startup with the reason', async () => {
    const custom = await start({ ATMOSPHERE_REDIS_URL: redis.url }, { channelPrefix: 'custom:' });
    try {
      expect((custom.atmosphere.provider('broadcaster-backplane') as RedisBackplane).channelPrefix).toBe(
        'custom:',
      );
    } finally {
      await custom.atmosphere.close();
    }
    await expect(start({ ATMOSPHERE_REDIS_URL: 'http://127.0.0.1:6379' })).rejects.toMatchObject({
      code: 'PROVIDER_FAILED',
      message: expect.stringContaining(
        'broadcaster-backplane: provider redis is configured but failed to start — create() failed: ATMOSPHERE_REDIS_URL must be a redis:// or rediss:// URL; got http://…. Fix its configuration',
      ),
    });
  });
});

test('a Redis in cluster mode stops the cluster state at startup with the reason and the fix', async () => {
  const cluster = await startTestRedis({ cluster: true });
  try {
    await expect(
      startTestAtmosphere({
        providers: [redisClusterState({ url: cluster.url })],
        logger: recordingLogger(),
      }),
    ).rejects.toMatchObject({
      code: 'PROVIDER_FAILED',
      message: expect.stringMatching(
        /cluster mode \(cluster_enabled:1\).*Point ATMOSPHERE_REDIS_URL \(or redisClusterState\(\{ url \}\)\) at a standalone Redis/s,
      ),
    });
  } finally {
    await cluster.stop();
  }
});
