import { describe, expect, test } from 'vitest';
import { streamLogContract } from '../testing/stream-log-contract.ts';
import { MemoryStreamLog } from './memory-stream-log.ts';

streamLogContract('memory', { create: () => new MemoryStreamLog() });

describe('memory stream log limits', () => {
  test('per stream: past the record or byte limit the oldest records go, the numbering goes on', () => {
    const log = new MemoryStreamLog({ maxRecordsPerStream: 3, maxBytesPerStream: 100 });
    const { epoch } = log.append(
      's',
      [1, 2, 3, 4, 5].map((n) => ({ payload: `m${n}` })),
    );
    expect(log.state('s')).toEqual({ epoch, first: 3, last: 5 });
    // 49 characters count 98 bytes: with m4 or m5 (4 bytes each) beside it the stream is over 100.
    log.append('s', [{ payload: 'y'.repeat(49) }]);
    expect(log.state('s')).toEqual({ epoch, first: 6, last: 6 });
    expect(log.stats()).toMatchObject({ records: 1, bytes: 98 });
  });

  test('records older than maxAgeMs are dropped by the sweep; the stream keeps its epoch', () => {
    const log = new MemoryStreamLog({ maxAgeMs: 1_000 });
    const { epoch } = log.append('s', [{ payload: 'old' }]);
    log.sweep(Date.now() + 500);
    expect(log.read('s', 0)?.records).toHaveLength(1);
    log.sweep(Date.now() + 5_000);
    expect(log.state('s')).toEqual({ epoch, first: 2, last: 1 });
  });

  test('over the total, the oldest records of all streams go first', async () => {
    const log = new MemoryStreamLog({ maxRecords: 4 });
    log.append('a', [{ payload: 'a1' }]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.append('b', [{ payload: 'b1' }, { payload: 'b2' }]);
    await new Promise((resolve) => setTimeout(resolve, 5));
    log.append('a', [{ payload: 'a2' }, { payload: 'a3' }]);
    expect(log.stats().records).toBe(5);
    log.sweep(Date.now());
    expect(log.stats().records).toBe(4);
    expect(log.read('a', 0)?.records.map((r) => r.payload)).toEqual(['a2', 'a3']);
    expect(log.read('b', 0)?.records.map((r) => r.payload)).toEqual(['b1', 'b2']);
  });

  test('past maxStreams, the stream appended to longest ago is forgotten', () => {
    const log = new MemoryStreamLog({ maxStreams: 2 });
    log.append('a', [{ payload: '1' }]);
    log.append('b', [{ payload: '1' }]);
    log.append('a', [{ payload: '2' }]);
    log.append('c', [{ payload: '1' }]);
    expect(log.state('b')).toBeUndefined();
    expect(log.state('a')?.last).toBe(2);
    expect(log.stats()).toMatchObject({ streams: 2, records: 3 });
  });

  test('appends in a row to one stream keep the order of the streams by their last append', () => {
    const appendAll = (log: MemoryStreamLog, streams: string): void => {
      for (const stream of streams) log.append(stream, [{ payload: stream }]);
    };
    const first = new MemoryStreamLog({ maxStreams: 2 });
    appendAll(first, 'abbaac');
    expect(first.state('b')).toBeUndefined();
    expect(first.state('a')?.last).toBe(3);
    const second = new MemoryStreamLog({ maxStreams: 2 });
    appendAll(second, 'abaabbc');
    expect(second.state('a')).toBeUndefined();
    expect(second.state('b')?.last).toBe(3);
    // The newest stream deleted, then appended to again: a stream of its own, newest again.
    const third = new MemoryStreamLog({ maxStreams: 2 });
    appendAll(third, 'ab');
    third.delete('b');
    appendAll(third, 'bbac');
    expect(third.state('b')).toBeUndefined();
    expect(third.state('a')?.last).toBe(2);
    expect(third.stats()).toMatchObject({ streams: 2, records: 3 });
  });

  test('a read returns at most readLimit records', () => {
    const log = new MemoryStreamLog({ readLimit: 10 });
    log.append(
      's',
      Array.from({ length: 25 }, (_, i) => ({ payload: String(i) })),
    );
    expect(log.read('s', 0, { limit: 1_000 })?.records).toHaveLength(10);
    expect(log.read('s', 0, { limit: 4 })?.records).toHaveLength(4);
  });
});
