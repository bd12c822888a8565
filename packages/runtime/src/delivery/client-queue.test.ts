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

describe('backpressure drops signalled to a client with positions', () => {
  const at = (seq: number, stream = 's') => {
    const m = new EncodedMessage(`m${seq}`, stream, 1);
    m.position = { epoch: 'e', seq };
    return m;
  };
  /** What the client reads: bodies, resets as `reset:<from>><resumeAt>`. */
  const drain = (queue: ReturnType<ClientQueues['queue']>) => {
    const out: string[] = [];
    for (let m = queue.next(); m !== undefined; m = queue.next()) {
      if (!m.control) out.push(String(m.payload));
      else {
        const reset = JSON.parse(String(m.payload).slice(3)) as {
          from: { seq: number };
          resumeAt?: { seq: number };
        };
        out.push(`reset:${reset.from.seq}>${reset.resumeAt?.seq ?? '?'}`);
      }
    }
    return out;
  };

  test('drop-oldest: one frame per run, where the first dropped was; frames are never dropped themselves', () => {
    const cache = new ClientQueues();
    const queue = cache.queue('a');
    for (let i = 1; i <= 3; i++) queue.enqueue(at(i), false);
    for (let i = 4; i <= 8; i++) {
      expect(queue.dropOldest(true)).toBe(true);
      queue.enqueue(at(i), false);
    }
    expect(queue.dropped).toBe(5);
    expect(cache.stats().pending).toBe(4);
    expect(drain(queue)).toEqual(['reset:1>6', 'm6', 'm7', 'm8']);
    // Only a frame left: nothing to drop.
    queue.dropNewest(at(9), true);
    expect(queue.dropOldest(true)).toBe(false);
    expect(drain(queue)).toEqual(['reset:9>?']);
    expect(cache.stats().pending).toBe(0);
  });

  test('drop-newest: one frame at the tail per run; a message queued behind it starts a new run', () => {
    const cache = new ClientQueues();
    const queue = cache.queue('a');
    queue.enqueue(at(1), false);
    queue.dropNewest(at(2), true);
    queue.dropNewest(at(3), true);
    queue.enqueue(at(4), false);
    queue.dropNewest(at(5), true);
    queue.enqueue(at(6), false);
    expect(drain(queue)).toEqual(['m1', 'reset:2>4', 'm4', 'reset:5>6', 'm6']);
  });

  test('without signal (no positions) or without a position, nothing is added', () => {
    const cache = new ClientQueues();
    const queue = cache.queue('a');
    queue.enqueue(at(1), false);
    queue.dropNewest(at(2), false);
    queue.dropNewest(message('plain'), true);
    expect(queue.dropOldest(false)).toBe(true);
    expect(queue.pending.length).toBe(0);
    expect(queue.dropped).toBe(3);
  });

  test('the time to live and the total never drop a waiting frame with data; the total ends with only frames left', () => {
    const cache = new ClientQueues({ messageTtlMs: 1_000, maxTotal: 0 });
    const queue = cache.queue('a');
    queue.enqueue(at(1), false);
    queue.dropOldest(true);
    queue.enqueue(at(2, 't'), false);
    expect(queue.pending.length).toBe(2);
    // m2 (createdAt 1) expires; the frame stays.
    const ttl = new ClientQueues({ messageTtlMs: 1_000 });
    const other = ttl.queue('b');
    other.enqueue(at(1), false);
    other.dropOldest(true);
    other.enqueue(at(2), false);
    ttl.sweep(10_000);
    expect(drain(other)).toEqual(['reset:1>?']);
    // The total (0): data first, then the frame, and the sweep ends.
    cache.sweep(2);
    expect(queue.pending.length).toBe(0);
    expect(cache.stats().pending).toBe(0);
  });
});
