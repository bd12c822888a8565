import { silentLogger } from '@atmosphere/runtime';
import type { ProviderContext } from '@atmosphere/runtime/spi';
import { describe, expect, test } from 'vitest';
import { redisBackplane, redisBackplaneFromEnvironment } from './provider.ts';
import type { RedisBackplane } from './redis-backplane.ts';

function context(env: Record<string, string> = {}, settings: Record<string, unknown> = {}): ProviderContext {
  return { env, logger: silentLogger, settings };
}

async function created(
  provider: ReturnType<typeof redisBackplane>,
  at: ProviderContext,
): Promise<RedisBackplane> {
  const backplane = (await provider.create(at)) as RedisBackplane;
  // Nothing connects before start(); close() only stops the lazy connections.
  await backplane.close();
  return backplane;
}

describe('redisBackplane()', () => {
  test('is a broadcaster-backplane provider named redis at priority 10, always available when explicit', async () => {
    const provider = redisBackplane();
    expect([provider.kind, provider.name, provider.priority]).toEqual(['broadcaster-backplane', 'redis', 10]);
    expect(await provider.isAvailable(context())).toBe(true);
  });

  test('the URL comes from the option, then the setting, then ATMOSPHERE_REDIS_URL, then 127.0.0.1:6379', async () => {
    const env = { ATMOSPHERE_REDIS_URL: 'redis://env-host:1' };
    const settings = { url: 'redis://settings-host:2' };
    expect(
      (await created(redisBackplane({ url: 'redis://option-host:3' }), context(env, settings))).location,
    ).toBe('redis://option-host:3');
    expect((await created(redisBackplane(), context(env, settings))).location).toBe(
      'redis://settings-host:2',
    );
    expect((await created(redisBackplane(), context(env))).location).toBe('redis://env-host:1');
    expect((await created(redisBackplane(), context())).location).toBe('redis://127.0.0.1:6379');
  });

  test('the password never shows; the prefix comes from the option, then the setting, then atmosphere:', async () => {
    const backplane = await created(
      redisBackplane({ url: 'rediss://user:s3cret@host:6380/2' }),
      context({}, { channelPrefix: 'from-settings:' }),
    );
    expect(backplane.location).toBe('rediss://user:***@host:6380/2');
    expect(backplane.channelPrefix).toBe('from-settings:');
    expect((await created(redisBackplane({ channelPrefix: 'mine:' }), context())).channelPrefix).toBe(
      'mine:',
    );
    expect((await created(redisBackplane(), context())).channelPrefix).toBe('atmosphere:');
  });

  test('glob characters of the prefix are escaped in the subscription pattern', async () => {
    const backplane = await created(redisBackplane({ channelPrefix: 'a*b?[c]\\:' }), context());
    expect(backplane.pattern).toBe('a\\*b\\?\\[c\\]\\\\:*');
  });
});

describe('the register entry provider', () => {
  test('is unavailable without ATMOSPHERE_REDIS_URL, naming it; available with it', async () => {
    const provider = redisBackplaneFromEnvironment();
    expect(await provider.isAvailable(context())).toEqual({
      available: false,
      reason:
        'ATMOSPHERE_REDIS_URL is not set; set it (redis://host:6379) to relay broadcasts between nodes, or pass redisBackplane({ url }) in createAtmosphere({ providers })',
    });
    expect(await provider.isAvailable(context({ ATMOSPHERE_REDIS_URL: '  ' }))).not.toBe(true);
    expect(await provider.isAvailable(context({ ATMOSPHERE_REDIS_URL: 'redis://h:1' }))).toBe(true);
  });
});

describe('ioredis is an optional peer', () => {
  test('no module of the package imports ioredis statically: only a URL connection loads it, on demand', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = new URL('./', import.meta.url);
    const sources = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const staticImports: string[] = [];
    for (const file of sources) {
      const text = await readFile(new URL(file, dir), 'utf8');
      if (
        /^import [^;]*from 'ioredis'/m.test(text) &&
        !/^import type /m.test(text.match(/^import [^;]*from 'ioredis'/m)![0])
      )
        staticImports.push(file);
    }
    expect(sources.length).toBeGreaterThan(5);
    expect(staticImports).toEqual([]);
  });
});
