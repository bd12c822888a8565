import { describe, expect, test } from 'vitest';
import { sessionStoreContract } from '../testing/session-store-contract.ts';
import { MemorySessionStore } from './memory-session-store.ts';

sessionStoreContract('memory', { create: ({ limits, now }) => new MemorySessionStore({ limits, now }) });

describe('memory session store', () => {
  test('keeps at most maxSessions, dropping the least recently used', () => {
    const store = new MemorySessionStore({ maxSessions: 2 });
    const a = store.create();
    const b = store.create();
    store.touch(a.token);
    const c = store.create();
    expect(store.size).toBe(2);
    expect(store.get(b.token)).toBeUndefined();
    expect(store.get(a.token)).toBeDefined();
    expect(store.get(c.token)).toBeDefined();
  });

  test('returns copies: changing a returned record does not change the store', () => {
    const store = new MemorySessionStore();
    const created = store.create({ rooms: ['a'], metadata: { k: 1 } });
    (created.rooms as string[]).push('b');
    (created.metadata as Record<string, unknown>)['k'] = 2;
    expect(store.get(created.token)).toMatchObject({ rooms: ['a'], metadata: { k: 1 } });
  });
});
