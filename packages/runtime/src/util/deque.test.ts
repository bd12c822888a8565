import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Deque } from './deque.ts';

describe('Deque', () => {
  test('behaves like an array under any sequence of operations', () => {
    type Op =
      | { kind: 'push' | 'unshift'; value: number }
      | { kind: 'shift' | 'pop' }
      | { kind: 'dropFront'; count: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constantFrom('push' as const, 'unshift' as const), value: fc.integer() }),
      fc.record({ kind: fc.constantFrom('shift' as const, 'pop' as const) }),
      fc.record({ kind: fc.constant('dropFront' as const), count: fc.nat({ max: 40 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 600 }), (ops) => {
        const deque = new Deque<number>();
        const model: number[] = [];
        for (const o of ops) {
          if (o.kind === 'push') {
            deque.push(o.value);
            model.push(o.value);
          } else if (o.kind === 'unshift') {
            deque.unshift(o.value);
            model.unshift(o.value);
          } else if (o.kind === 'shift') expect(deque.shift()).toBe(model.shift());
          else if (o.kind === 'pop') expect(deque.pop()).toBe(model.pop());
          else if ('count' in o) {
            deque.dropFront(o.count);
            model.splice(0, o.count);
          }
          expect(deque.length).toBe(model.length);
          // Memory stays proportional to what it holds: never below a quarter full once it has grown.
          if (deque.capacity > 8) expect(deque.length).toBeGreaterThanOrEqual(deque.capacity / 4);
        }
        expect([...deque]).toEqual(model);
      }),
    );
  });

  test('dropFront removes from the front only', () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 20; i++) deque.push(i);
    deque.dropFront(15);
    expect([...deque]).toEqual([15, 16, 17, 18, 19]);
    deque.dropFront(99);
    expect(deque.length).toBe(0);
  });

  test('gives its array back after a burst: empty means no array, a quarter full means half the array', () => {
    const deque = new Deque<number>();
    expect(deque.capacity).toBe(0);
    for (let i = 0; i < 1000; i++) deque.push(i);
    expect(deque.capacity).toBe(1024);
    // Shifting down: the array halves each time it falls below a quarter full.
    while (deque.length > 200) deque.shift();
    expect(deque.capacity).toBe(512);
    expect(deque.peek()).toBe(800);
    // Dropping many at once resizes once, to the size that fits.
    deque.dropFront(195);
    expect([...deque]).toEqual([995, 996, 997, 998, 999]);
    expect(deque.capacity).toBe(16);
    while (deque.length > 0) deque.pop();
    expect(deque.capacity).toBe(8);
    // Emptied at once while large (everything confirmed): no array at all until the next push.
    for (let i = 0; i < 100; i++) deque.push(i);
    expect(deque.capacity).toBe(128);
    deque.dropFront(100);
    expect(deque.capacity).toBe(0);
    deque.push(1);
    expect(deque.capacity).toBe(8);
    expect([...deque]).toEqual([1]);
  });

  test('a queue that stays small keeps its first array (no allocation per message)', () => {
    const deque = new Deque<number>();
    deque.push(1);
    deque.shift();
    expect(deque.capacity).toBe(8);
    deque.push(2);
    expect(deque.capacity).toBe(8);
    expect(deque.shift()).toBe(2);
  });
});
