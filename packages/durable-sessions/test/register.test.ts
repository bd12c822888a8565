import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { AtmosphereError } from '@atmosphere/runtime';
import { registry } from '@atmosphere/runtime/spi';
import { recordingLogger, startForSelection, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import '../src/register.ts';
import { durable, RedisStreamLog, SqliteSessionStore, SqliteStreamLog } from '../src/index.ts';
import { newFile, tempFolder } from './helpers.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

const folder = tempFolder('register');
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  for (const kind of ['stream-log', 'session-store', 'conversation-memory']) {
    registry.unregister(kind, 'sqlite');
    registry.unregister(kind, 'redis');
  }
  await redis?.stop();
});

async function startupFailure(start: () => Promise<{ close(): Promise<void> }>): Promise<unknown> {
  try {
    const atmosphere = await start();
    await atmosphere.close();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('the register entry', () => {
  test('registers SQLite (10) and Redis (20) for the stream log, sessions and conversation memory', () => {
    const rows = ['stream-log', 'session-store', 'conversation-memory'].flatMap((kind) =>
      registry.providers(kind).map((p) => [p.kind, p.name, p.priority]),
    );
    expect(rows).toEqual([
      ['stream-log', 'sqlite', 10],
      ['stream-log', 'redis', 20],
      ['session-store', 'sqlite', 10],
      ['session-store', 'redis', 20],
      ['conversation-memory', 'sqlite', 10],
      ['conversation-memory', 'redis', 20],
    ]);
  });

  test('ATMOSPHERE_DURABLE_SQLITE: SQLite wins every kind; the startup lines say which and why', async () => {
    const file = newFile(folder, 'env');
    const { atmosphere, line, logger } = await startForSelection('stream-log', {
      ATMOSPHERE_DURABLE_SQLITE: file,
    });
    try {
      expect(line).toBe(
        'stream-log: sqlite selected (highest priority of the available candidates (10)); memory: outranked — outranked by sqlite (priority 10 vs 0); redis: unavailable — ATMOSPHERE_REDIS_URL is not set; set it (redis://host:6379) to share stream-log between nodes',
      );
      expect(atmosphere.log).toBeInstanceOf(SqliteStreamLog);
      expect((atmosphere.log as SqliteStreamLog).file).toBe(file);
      expect(atmosphere.provider('session-store')).toBeInstanceOf(SqliteSessionStore);
      expect(atmosphere.provider('conversation-memory')?.name).toBe('sqlite');
      expect(logger.lines.map((l) => l.message)).toContain(
        `durable-sessions: stream-log on SQLite file ${file} (from ATMOSPHERE_DURABLE_SQLITE)`,
      );
    } finally {
      await atmosphere.close();
    }
  });

  test('ATMOSPHERE_DURABLE_SQLITE=off: memory wins, and the line says why', async () => {
    const { atmosphere, line } = await startForSelection('session-store', {
      ATMOSPHERE_DURABLE_SQLITE: 'off',
    });
    try {
      expect(atmosphere.provider('session-store')?.name).toBe('memory');
      expect(line).toContain("sqlite: unavailable — ATMOSPHERE_DURABLE_SQLITE is 'off'");
    } finally {
      await atmosphere.close();
    }
  });

  test('ATMOSPHERE_REDIS_URL: Redis wins over SQLite', async () => {
    const { atmosphere, line } = await startForSelection('stream-log', {
      ATMOSPHERE_REDIS_URL: redis.url,
      ATMOSPHERE_DURABLE_SQLITE: newFile(folder, 'outranked'),
    });
    try {
      expect(atmosphere.log).toBeInstanceOf(RedisStreamLog);
      expect(line).toMatch(
        /^stream-log: redis selected .*sqlite: outranked — outranked by redis \(priority 20 vs 10\)/,
      );
    } finally {
      await atmosphere.close();
    }
  });

  test('a corrupt file named by ATMOSPHERE_DURABLE_SQLITE stops startup with the file and the fix', async () => {
    const file = join(folder, 'corrupt.sqlite');
    writeFileSync(file, 'not a database '.repeat(100));
    const logger = recordingLogger();
    const failure = await startupFailure(() =>
      startTestAtmosphere({ env: { ATMOSPHERE_DURABLE_SQLITE: file }, logger }),
    );
    expect(AtmosphereError.isInstance(failure) && failure.code).toBe('PROVIDER_FAILED');
    expect((failure as Error).message).toContain(file);
    expect((failure as Error).message).toContain('ATMOSPHERE_DURABLE_SQLITE');
    expect((failure as Error).message).toMatch(/rather than fall back/);
  });

  test('a Redis that is down at start stops startup with the URL (password masked) and the fix', async () => {
    const failure = await startupFailure(() =>
      startTestAtmosphere({
        env: { ATMOSPHERE_REDIS_URL: 'redis://:hunter2@127.0.0.1:1', ATMOSPHERE_DURABLE_SQLITE: 'off' },
        logger: recordingLogger(),
      }),
    );
    expect(AtmosphereError.isInstance(failure) && failure.code).toBe('PROVIDER_FAILED');
    expect((failure as Error).message).toContain('redis://:***@127.0.0.1:1');
    expect((failure as Error).message).not.toContain('hunter2');
    expect((failure as Error).message).toContain('ATMOSPHERE_REDIS_URL');
  });

  test('a Redis in cluster mode stops startup with the reason and the fix, for every durable kind', async () => {
    const cluster = await startTestRedis({ cluster: true });
    try {
      const failure = await startupFailure(() =>
        startTestAtmosphere({
          env: { ATMOSPHERE_REDIS_URL: cluster.url, ATMOSPHERE_DURABLE_SQLITE: 'off' },
          logger: recordingLogger(),
        }),
      );
      expect(AtmosphereError.isInstance(failure) && failure.code).toBe('PROVIDER_FAILED');
      const message = (failure as Error).message;
      expect(message).toContain(`cannot use Redis at ${cluster.url}`);
      expect(message).toContain('cluster mode (cluster_enabled:1)');
      expect(message).toContain('Point ATMOSPHERE_REDIS_URL at a standalone Redis primary');
      // Each kind alone refuses it too (each opens its own connection).
      for (const kind of ['stream-log', 'session-store', 'conversation-memory'] as const) {
        const alone = await startupFailure(() =>
          startTestAtmosphere({
            providers: durable({ redis: cluster.url, kinds: [kind] }),
            logger: recordingLogger(),
          }),
        );
        expect(AtmosphereError.isInstance(alone) && alone.code, kind).toBe('PROVIDER_FAILED');
        expect((alone as Error).message, kind).toContain('cluster mode');
      }
    } finally {
      await cluster.stop();
    }
  });

  test('a Redis replica stops startup with the reason and the fix; its primary is taken', async () => {
    const primary = await startTestRedis();
    const replica = await startTestRedis();
    try {
      const admin = new Redis(replica.url);
      await admin.replicaof('127.0.0.1', primary.port);
      await admin.quit();
      const failure = await startupFailure(() =>
        startTestAtmosphere({ providers: durable({ redis: replica.url }), logger: recordingLogger() }),
      );
      expect(AtmosphereError.isInstance(failure) && failure.code).toBe('PROVIDER_FAILED');
      expect((failure as Error).message).toContain(`cannot use Redis at ${replica.url}`);
      expect((failure as Error).message).toContain('it is a replica (role:slave)');
      const atmosphere = await startTestAtmosphere({
        providers: durable({ redis: primary.url }),
        logger: recordingLogger(),
      });
      await atmosphere.close();
    } finally {
      await replica.stop();
      await primary.stop();
    }
  });

  test('a Redis that may evict keys when full is used, with a warning naming its policy and the fix', async () => {
    const evicting = await startTestRedis();
    try {
      const admin = new Redis(evicting.url);
      await admin.config('SET', 'maxmemory', '512mb');
      await admin.config('SET', 'maxmemory-policy', 'volatile-lru');
      const logger = recordingLogger();
      const atmosphere = await startTestAtmosphere({
        providers: durable({ redis: evicting.url, kinds: ['stream-log'] }),
        logger,
      });
      await atmosphere.close();
      const warnings = logger.lines.filter((line) => line.level === 'warn' && line.message.includes('evict'));
      expect(warnings.map((line) => line.message)).toEqual([
        expect.stringMatching(/maxmemory 536870912 bytes, maxmemory-policy volatile-lru.*noeviction/),
      ]);
      await admin.config('SET', 'maxmemory-policy', 'noeviction');
      await admin.quit();
      const quiet = recordingLogger();
      const again = await startTestAtmosphere({
        providers: durable({ redis: evicting.url, kinds: ['stream-log'] }),
        logger: quiet,
      });
      await again.close();
      expect(quiet.lines.filter((line) => line.message.includes('evict'))).toEqual([]);
    } finally {
      await evicting.stop();
    }
  });
});

describe('durable() options', () => {
  test('durable({ sqlite }) keeps streams across a restart of the server', async () => {
    const file = newFile(folder, 'explicit');
    const env = { ATMOSPHERE_DURABLE_SQLITE: 'off' };
    const first = await startTestAtmosphere({
      env,
      providers: durable({ sqlite: file }),
      logger: recordingLogger(),
    });
    const broadcaster = first.broadcasters.get('/news');
    await broadcaster.broadcast('one');
    await broadcaster.broadcast('two');
    const before = await first.log.state('/news');
    await first.close();
    const second = await startTestAtmosphere({
      env,
      providers: durable({ sqlite: file }),
      logger: recordingLogger(),
    });
    try {
      expect(await second.log.state('/news')).toEqual(before);
      expect((await second.log.read('/news', 0))?.records.map((r) => r.payload)).toEqual(['one', 'two']);
    } finally {
      await second.close();
    }
  });

  test('durable({ sqlite }) on an unwritable path stops startup instead of keeping state in memory', async () => {
    const blocker = join(folder, 'blocker');
    writeFileSync(blocker, 'x');
    const failure = await startupFailure(() =>
      startTestAtmosphere({
        env: {},
        providers: durable({ sqlite: join(blocker, 'app.sqlite') }),
        logger: recordingLogger(),
      }),
    );
    expect(AtmosphereError.isInstance(failure) && failure.code).toBe('PROVIDER_FAILED');
    expect((failure as Error).message).toContain(join(blocker, 'app.sqlite'));
    expect((failure as Error).message).toContain('durable({ sqlite })');
  });
});
