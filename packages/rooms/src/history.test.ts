import { describe, expect, test } from 'vitest';
import { MemoryStreamLog } from '@atmosphere/runtime/spi';
import {
  type HistoryEntry,
  historyAfter,
  LogHistory,
  replayGap,
  RoomHistory,
  roomHistoryStream,
} from './history.ts';

const entry = (id: number) => ({ id, payload: `{"id":${id}}`, message: { room: 'r', id, data: id } });
const ids = (history: RoomHistory, sinceId?: number) => history.after(sinceId).map((e) => e.id);

describe('RoomHistory', () => {
  test('keeps the newest entries in order and finds everything after an id', () => {
    const history = new RoomHistory(4);
    expect(ids(history)).toEqual([]);
    expect(history.lastId).toBeUndefined();
    for (let id = 1; id <= 10; id++) history.push(entry(id));
    expect(history.size).toBe(4);
    expect(ids(history)).toEqual([7, 8, 9, 10]);
    expect(ids(history, 0)).toEqual([7, 8, 9, 10]);
    expect(ids(history, 7)).toEqual([8, 9, 10]);
    expect(ids(history, 9)).toEqual([10]);
    expect(ids(history, 10)).toEqual([]);
    expect(ids(history, 99)).toEqual([]);
    expect(history.lastId).toBe(10);
  });

  test('ids need not be consecutive', () => {
    const history = new RoomHistory(5);
    for (const id of [2, 3, 7, 11, 12]) history.push(entry(id));
    expect(ids(history, 4)).toEqual([7, 11, 12]);
    expect(ids(history, 7)).toEqual([11, 12]);
    expect(ids(history, 1)).toEqual([2, 3, 7, 11, 12]);
  });

  test('insert puts an entry that arrives late where its id says, once; too old for a full history, it is not kept', () => {
    const history = new RoomHistory(4);
    for (const id of [1, 3, 4]) history.push(entry(id));
    expect(history.insert(entry(2))).toBe(true);
    expect(history.insert(entry(3))).toBe(false);
    expect(history.insert(entry(5))).toBe(true);
    expect(ids(history)).toEqual([2, 3, 4, 5]);
    expect(history.insert(entry(1))).toBe(false);
    expect(history.insert(entry(6))).toBe(true);
    expect(ids(history)).toEqual([3, 4, 5, 6]);
    expect(history.lastId).toBe(6);
  });

  test('merge adds entries read back from a log around those kept, in id order, each once, the newest kept', () => {
    const history = new RoomHistory(5);
    history.insert(entry(9));
    history.insert(entry(12));
    history.merge([6, 7, 8, 9, 10, 11].map(entry));
    expect(ids(history)).toEqual([8, 9, 10, 11, 12]);
    const empty = new RoomHistory(3);
    empty.merge([1, 2, 3, 4].map(entry));
    expect(ids(empty)).toEqual([2, 3, 4]);
  });

  test('resizing keeps the newest entries', () => {
    const history = new RoomHistory(3);
    for (let id = 1; id <= 5; id++) history.push(entry(id));
    expect(ids(history.resized(2))).toEqual([4, 5]);
    const bigger = history.resized(10);
    expect(ids(bigger)).toEqual([3, 4, 5]);
    for (let id = 6; id <= 14; id++) bigger.push(entry(id));
    expect(ids(bigger)).toEqual([5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
  });
});

describe('older history from the log', () => {
  const frame = (id: number) => JSON.stringify({ type: 'message', id, data: { n: id } });
  const stored = (log: MemoryStreamLog, ids: readonly number[]) =>
    log.append(
      roomHistoryStream('lobby'),
      ids.map((id) => ({ payload: frame(id) })),
    );
  const idsOf = (entries: readonly { id: number }[]) => entries.map((e) => e.id);

  test('between: the newest max ids in (sinceId, beforeId) the log keeps, oldest first, in one bounded read', () => {
    const log = new MemoryStreamLog();
    stored(
      log,
      Array.from({ length: 2_500 }, (_, i) => i + 1),
    );
    const store = new LogHistory(log, 'lobby');
    expect(idsOf(store.between(20, 26, 1_000) as HistoryEntry[])).toEqual([21, 22, 23, 24, 25]);
    const many = store.between(100, 2_401, 2_500) as HistoryEntry[];
    expect(idsOf(many)).toEqual(Array.from({ length: 2_300 }, (_, i) => i + 101));
    expect(many[0]).toMatchObject({
      payload: frame(101),
      message: { room: 'lobby', id: 101, data: { n: 101 } },
    });
    // Bounded: the newest 300 before 2 401, not the 2 300 asked for.
    expect(idsOf(store.between(0, 2_401, 300) as HistoryEntry[])).toEqual(
      Array.from({ length: 300 }, (_, i) => i + 2_101),
    );
    expect(store.between(5, 6, 1_000)).toEqual([]);
    expect(store.between(30, 10, 1_000)).toEqual([]);
    expect(store.between(0, 2_401, 0)).toEqual([]);
  });

  test('between: ids ahead of the log numbering (history turned off and on) are found from the first record', () => {
    const log = new MemoryStreamLog();
    stored(log, [50, 51, 52, 53, 60, 61]);
    const store = new LogHistory(log, 'lobby');
    expect(idsOf(store.between(20, 61, 1_000) as HistoryEntry[])).toEqual([50, 51, 52, 53, 60]);
    expect(idsOf(store.between(52, 100, 1_000) as HistoryEntry[])).toEqual([53, 60, 61]);
    // Bounded, ids far ahead: the window is the log's newest records; what it misses the caller reports as a gap.
    expect(idsOf(store.between(20, 61, 2) as HistoryEntry[])).toEqual([60]);
  });

  test('between: what the log no longer keeps (trimmed) is not invented', () => {
    const log = new MemoryStreamLog();
    stored(
      log,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    log.trim(roomHistoryStream('lobby'), 11);
    expect(idsOf(new LogHistory(log, 'lobby').between(2, 15, 1_000) as HistoryEntry[])).toEqual([
      11, 12, 13, 14,
    ]);
  });

  test('historyAfter: memory keeps the newest, the log fills in what is older', () => {
    const log = new MemoryStreamLog();
    stored(
      log,
      Array.from({ length: 30 }, (_, i) => i + 1),
    );
    const store = new LogHistory(log, 'lobby');
    const memory = new RoomHistory(10);
    for (let id = 21; id <= 30; id++)
      memory.push({ id, payload: frame(id), message: { room: 'lobby', id, data: { n: id } } });
    expect(idsOf(historyAfter(memory, store, 5, 1_000) as HistoryEntry[])).toEqual(
      Array.from({ length: 25 }, (_, i) => i + 6),
    );
    expect(idsOf(historyAfter(memory, store, 20, 1_000) as HistoryEntry[])).toEqual(
      Array.from({ length: 10 }, (_, i) => i + 21),
    );
    expect(idsOf(historyAfter(memory, store, 25, 1_000) as HistoryEntry[])).toEqual([26, 27, 28, 29, 30]);
    expect(historyAfter(memory, store, 30, 1_000)).toEqual([]);
    // Bounded: the newest 15 (memory's 10 and 5 from the log), or memory's newest 4 without reading the log.
    const bounded = historyAfter(memory, store, 0, 15) as HistoryEntry[];
    expect(idsOf(bounded)).toEqual(Array.from({ length: 15 }, (_, i) => i + 16));
    expect(replayGap(bounded, 0, 30, 15)).toEqual({ from: 1, resumeAt: 16, bounded: true });
    expect(idsOf(historyAfter(memory, store, 0, 4) as HistoryEntry[])).toEqual([27, 28, 29, 30]);
    // Without a durable store, what memory keeps; what it no longer keeps is a gap, not a bound.
    const kept = historyAfter(memory, undefined, 5, 1_000) as HistoryEntry[];
    expect(idsOf(kept)).toEqual(Array.from({ length: 10 }, (_, i) => i + 21));
    expect(replayGap(kept, 5, 30, 1_000)).toEqual({ from: 6, resumeAt: 21, bounded: false });
    expect(replayGap(kept, 20, 30, 1_000)).toBeUndefined();
    expect(replayGap([], 30, 30, 1_000)).toBeUndefined();
    expect(replayGap([], 0, 30, 0)).toEqual({ from: 1, resumeAt: 31, bounded: true });
  });
});
