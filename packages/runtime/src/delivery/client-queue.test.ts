import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { ClientQueues } from './client-queue.ts';
import { EncodedMessage } from './encoded-message.ts';

const message = (text: string, createdAt = Date.now()) => new EncodedMessage(text, undefined, createdAt);
const texts = (items: Iterable<EncodedMessage>) => [...items].map((m) => m.payload);

describe('ClientQueue', () => {
  test('past the per-client limit the oldest pending message is dropped', () => {
    const cache = new ClientQueues({ maxPerClient: 3 });
    const queue = cache.queue('a');
    for (const t of ['1', '2', '3', '4', '5']) queue.enqueue(message(t));
    expect(texts(queue.pending)).toEqual(['3', '4', '5']);
    expect(queue.dropped).toBe(2);
    expect(cache.stats()).toMatchObject({ clients: 1, pending: 3 });
  });

  test('rewind resends exactly what the client did not receive, and numbering follows the client', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 40 }), fc.nat(), (written, seen) => {
        const cache = new ClientQueues();
        const queue = cache.queue('a');
        for (let i = 1; i <= written; i++) queue.enqueue(message(`m${i}`));
        for (let i = 1; i <= written; i++) queue.next();
        const received = seen % (written + 1);
        const resent = queue.rewind(received);
        expect(resent).toBe(written - received);
        expect(texts(queue.pending)).toEqual(
          Array.from({ length: written - received }, (_, i) => `m${received + i + 1}`),
        );
        expect(queue.writtenSeq).toBe(received);
        // Writing them again numbers them as the client will count them.
        while (queue.next()) {
          /* drain */
        }
        expect(queue.writtenSeq).toBe(written);
        expect(cache.stats().pending).toBe(0);
      }),
    );
  });

  test('without a count, everything written counts as delivered', () => {
    const cache = new ClientQueues();
    const queue = cache.queue('a');
    for (const t of ['1', '2', '3']) queue.enqueue(message(t));
    queue.next();
    queue.next();
    expect(queue.rewind(undefined)).toBe(0);
    expect(texts(queue.pending)).toEqual(['3']);
    expect(cache.stats().unconfirmed).toBe(0);
  });

  test('a confirmation (WebSocket pong) drops confirmed messages only', () => {
    const cache = new ClientQueues();
    const queue = cache.queue('a');
    for (const t of ['1', '2', '3', '4']) queue.enqueue(message(t));
    for (let i = 0; i < 4; i++) queue.next();
    queue.confirm(2);
    expect(texts(queue.unconfirmed)).toEqual(['3', '4']);
    queue.confirm(99);
    expect(queue.unconfirmed.length).toBe(0);
  });
});

describe('ClientQueues.sweep', () => {
  test('drops messages past their time to live', () => {
    const cache = new ClientQueues({ messageTtlMs: 1_000 });
    const queue = cache.queue('a');
    queue.enqueue(message('old', 0));
    queue.enqueue(message('new', 5_000));
    cache.sweep(5_500);
    expect(texts(queue.pending)).toEqual(['new']);
  });

  test('past the total, the oldest messages go first, across clients', () => {
    const cache = new ClientQueues({ maxTotal: 3 });
    const a = cache.queue('a');
    const b = cache.queue('b');
    a.enqueue(message('a1', 1));
    b.enqueue(message('b1', 2));
    a.enqueue(message('a2', 3));
    b.enqueue(message('b2', 4));
    a.enqueue(message('a3', 5));
    cache.sweep(6);
    expect(texts(a.pending)).toEqual(['a2', 'a3']);
    expect(texts(b.pending)).toEqual(['b2']);
    expect(cache.stats().pending).toBe(3);
  });

  test('forget empties a client and its counts', () => {
    const cache = new ClientQueues();
    cache.queue('a').enqueue(message('x'));
    cache.forget('a');
    expect(cache.find('a')).toBeUndefined();
    expect(cache.stats()).toEqual({ clients: 0, pending: 0, unconfirmed: 0 });
  });
});
