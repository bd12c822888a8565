import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Deque } from './deque.ts';

describe('Deque', () => {
  test('behaves like an array under any sequence of operations', () => {
    type Op = { kind: 'push' | 'unshift'; value: number } | { kind: 'shift' | 'pop' };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constantFrom('push' as const, 'unshift' as const), value: fc.integer() }),
      fc.record({ kind: fc.constantFrom('shift' as const, 'pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
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
          else expect(deque.pop()).toBe(model.pop());
          expect(deque.length).toBe(model.length);
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
});
