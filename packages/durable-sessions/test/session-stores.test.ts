import { sessionStoreContract } from '@atmosphere/runtime/testing/session-store-contract';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { closeRedis, connectRedis, loadIoredis } from '../src/redis/connection.ts';
import { RedisSessionStore } from '../src/sessions/redis-session-store.ts';
import { SqliteSessionStore } from '../src/sessions/sqlite-session-store.ts';
import { tokenKey } from '../src/sessions/token-key.ts';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { newFile, tempFolder } from './helpers.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

const folder = tempFolder('sessions');
const Database = await loadBetterSqlite3();
const Redis = await loadIoredis();
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const sqliteFiles = new WeakMap<object, string>();
function openSqlite(file: string, setup: { limits: object; now: () => number }): SqliteSessionStore {
  const store = new SqliteSessionStore(openSqliteFile(Database, file, 'session store', 'the test'), {
    ownsDatabase: true,
    limits: setup.limits,
    now: setup.now,
    sweepIntervalMs: 0,
  });
  sqliteFiles.set(store, file);
  return store;
}

sessionStoreContract('sqlite', {
  create: (setup) => openSqlite(newFile(folder, 'sessions'), setup),
  async reopen(store, setup) {
    await store.close();
    return openSqlite(sqliteFiles.get(store)!, setup);
  },
});

let prefixCounter = 0;
const prefixes = new WeakMap<object, string>();
async function openRedis(
  prefix: string,
  setup: { limits: object; now: () => number },
): Promise<RedisSessionStore> {
  const connection = await connectRedis(Redis, redis.url, {
    source: 't',
    purpose: 'session store',
    timeoutMs: 5_000,
  });
  const store = new RedisSessionStore(connection, {
    prefix,
    limits: setup.limits,
    now: setup.now,
    onClose: () => closeRedis(connection),
  });
  prefixes.set(store, prefix);
  return store;
}

sessionStoreContract('redis', {
  create: (setup) => openRedis(`sessions${++prefixCounter}:`, setup),
  async reopen(store, setup) {
    await store.close();
    return openRedis(prefixes.get(store)!, setup);
  },
});

describe('durable session stores keep no usable token', () => {
  test('sqlite: the file holds the SHA-256 of the token, never the token', async () => {
    const file = newFile(folder, 'hashed');
    const store = openSqlite(file, { limits: {}, now: Date.now });
    const { token } = store.create({ identity: 'alice' });
    await store.close();
    const database = openSqliteFile(Database, file, 'check', 'the test');
    const keys = database.prepare('SELECT key FROM atmosphere_sessions').all() as { key: string }[];
    database.close();
    expect(keys).toEqual([{ key: tokenKey(token) }]);
  });

  test('redis: the key is the SHA-256 of the token and expires with the session', async () => {
    const store = await openRedis('hashed:', { limits: { ttlMs: 60_000 }, now: Date.now });
    const { token } = await store.create();
    const connection = await connectRedis(Redis, redis.url, {
      source: 't',
      purpose: 'check',
      timeoutMs: 5_000,
    });
    const value = await connection.get(`hashed:session:${tokenKey(token)}`);
    expect(value).not.toBeNull();
    expect(value).not.toContain(token);
    const ttl = await (connection as unknown as { pttl(key: string): Promise<number> }).pttl(
      `hashed:session:${tokenKey(token)}`,
    );
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(60_000);
    await closeRedis(connection);
    await store.close();
  });
});
