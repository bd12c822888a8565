import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { approvalMessage } from '@atmosphere/protocol';
import { FrameDeduplicator } from '../../src/ai/deduplicator.ts';

describe('FrameDeduplicator', () => {
  test('property: delivering any interleaving of sessions with replays yields each (session, seq) once, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.integer({ min: 1, max: 30 })), {
          maxLength: 200,
        }),
        (arrivals) => {
          const dedup = new FrameDeduplicator();
          const accepted: string[] = [];
          const last = new Map<string, number>();
          for (const [sessionId, seq] of arrivals) {
            const expected = seq > (last.get(sessionId) ?? 0);
            expect(dedup.accept({ sessionId, seq })).toBe(expected);
            if (expected) {
              last.set(sessionId, seq);
              accepted.push(`${sessionId}:${seq}`);
            }
          }
          expect(new Set(accepted).size).toBe(accepted.length);
        },
      ),
    );
  });

  test('a replay after a reconnect (frames 3..6 again, then 7) shows only 7 new', () => {
    const dedup = new FrameDeduplicator();
    const seen = [1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7].filter((seq) => dedup.accept({ sessionId: 's', seq }));
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(dedup.lastSeq('s')).toBe(7);
  });

  test('it forgets the oldest sessions past its capacity', () => {
    const dedup = new FrameDeduplicator(2);
    dedup.accept({ sessionId: 'a', seq: 5 });
    dedup.accept({ sessionId: 'b', seq: 5 });
    dedup.accept({ sessionId: 'c', seq: 5 });
    expect(dedup.lastSeq('a')).toBeUndefined();
    expect(dedup.lastSeq('c')).toBe(5);
  });
});

test('approval messages: approve, approve with edited arguments, deny', () => {
  expect(approvalMessage('a1', 'approve')).toBe('/__approval/a1/approve');
  expect(approvalMessage('a1', 'approve', { city: 'Paris' })).toBe(
    '/__approval/a1/approve {"arguments":{"city":"Paris"}}',
  );
  expect(approvalMessage('a1', 'deny', { ignored: true })).toBe('/__approval/a1/deny');
});
