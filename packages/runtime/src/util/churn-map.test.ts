import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ClientQueues } from '../delivery/client-queue.ts';
import { ChurnMap } from './churn-map.ts';

// Collections on demand (a full one, or a young-generation one), without starting the process with --expose-gc.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as (options?: { type: 'minor' | 'major'; execution: 'sync' }) => void;
const scavenge = (): void => gc({ type: 'minor', execution: 'sync' });
const oldSpaceUsed = (): number =>
  getHeapSpaceStatistics().find((space) => space.space_name === 'old_space')!.space_used_size;

/**
 * How much the old generation grew while `churn` ran (with young-generation collections in between) and after
 * two more young-generation collections: what survived them, though nothing of it was reachable any more.
 */
function promotedBy(churn: (scavengeNow: () => void) => void): number {
  gc();
  gc();
  const before = oldSpaceUsed();
  churn(scavenge);
  scavenge();
  scavenge();
  return oldSpaceUsed() - before;
}

describe('ChurnMap', () => {
  test('behaves like a Map under any sequence of operations', () => {
    type Op = { kind: 'set'; key: string; value: number } | { kind: 'delete' | 'get' | 'has'; key: string };
    // Tracking ids are [A-Za-z0-9_-]{1,128}: some look like array indices.
    const key = fc.constantFrom(
      'a',
      'b',
      'c',
      'd',
      'e',
      'f',
      '__proto__',
      'constructor',
      'x-1',
      '7',
      '4294967294',
    );
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('set' as const), key, value: fc.integer() }),
      fc.record({ kind: fc.constantFrom('delete' as const, 'get' as const, 'has' as const), key }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const map = new ChurnMap<number>();
        const model = new Map<string, number>();
        for (const o of ops) {
          if (o.kind === 'set') {
            map.set(o.key, o.value);
            model.set(o.key, o.value);
          } else if (o.kind === 'delete') {
            expect(map.delete(o.key)).toBe(model.delete(o.key));
          } else if (o.kind === 'get') {
            expect(map.get(o.key)).toBe(model.get(o.key));
          } else {
            expect(map.has(o.key)).toBe(model.has(o.key));
          }
          expect(map.size).toBe(model.size);
        }
        // Insertion order, as in a Map, whatever the keys look like.
        expect([...map.values()]).toEqual([...model.values()]);
        map.clear();
        expect(map.size).toBe(0);
        expect([...map.values()]).toEqual([]);
      }),
    );
  });

  test('an iteration goes on over the order it started with when deletions rebuild it', () => {
    const map = new ChurnMap<number>();
    for (let i = 0; i < 100; i++) map.set(`k${i}`, i);
    const seen: number[] = [];
    for (const value of map.values()) {
      seen.push(value);
      // Deleting the entry reached and the next one: the order is rebuilt halfway through.
      map.delete(`k${value}`);
      map.delete(`k${value + 1}`);
      if (value === 10) map.set('late', 1000);
    }
    expect(seen).toEqual([...Array.from({ length: 50 }, (_, i) => 2 * i), 1000]);
    expect([...map.values()]).toEqual([1000]);
  });

  test('an entry deleted during an iteration before it is reached is skipped', () => {
    const map = new ChurnMap<string>();
    for (const key of ['a', 'b', 'c', 'd']) map.set(key, key);
    const seen: string[] = [];
    for (const value of map.values()) {
      seen.push(value);
      if (value === 'a') map.delete('c');
    }
    expect(seen).toEqual(['a', 'b', 'd']);
  });

  test('clear() ends an iteration under way', () => {
    const map = new ChurnMap<string>();
    for (const key of ['a', 'b', 'c']) map.set(key, key);
    const seen: string[] = [];
    for (const value of map.values()) {
      seen.push(value);
      map.clear();
    }
    expect(seen).toEqual(['a']);
  });

  // A Map whose entries come and go keeps each value that passed through it alive through young-generation
  // collections once its table was promoted (here about 4.7 MB of the 4 000 values of 1 KiB): the heap of
  // a server refusing a flood of connections grew for garbage. A ChurnMap keeps none of them.
  test('values that passed through it do not survive young-generation collections', () => {
    const promoted = promotedBy((scavengeNow) => {
      const map = new ChurnMap<object>();
      const keys: string[] = [];
      for (let i = 0; i < 4_000; i++) {
        const key = `id-${i}`;
        map.set(key, { id: i, payload: new Array<number>(128).fill(i) });
        keys.push(key);
        if (keys.length > 8) map.delete(keys.shift()!);
        if (i % 500 === 499) scavengeNow();
      }
      for (const key of keys) map.delete(key);
    });
    expect(promoted).toBeLessThan(1024 * 1024);
  });
});

describe('ClientQueues', () => {
  // A queue per connection, made and forgotten with it (a flood of refused connections does exactly this):
  // with a Map about 5.4 MB of the 20 000 queues reached the old generation; what reaches it now is mostly the
  // keys, which a dictionary object internalizes there (about 1.1 MB of 36-character ids).
  test('queues of forgotten clients do not survive young-generation collections', () => {
    const cache = new ClientQueues();
    const promoted = promotedBy((scavengeNow) => {
      const ids: string[] = [];
      for (let i = 0; i < 20_000; i++) {
        const id = `${String(i).padStart(8, '0')}-0000-4000-8000-000000000000`;
        cache.queue(id);
        ids.push(id);
        if (ids.length > 8) cache.forget(ids.shift()!);
        if (i % 2_000 === 1_999) scavengeNow();
      }
      for (const id of ids) cache.forget(id);
    });
    expect(cache.stats().clients).toBe(0);
    expect(promoted).toBeLessThan(3 * 1024 * 1024);
  });
});
