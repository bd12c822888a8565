import { describe, expect, test } from 'vitest';
import { RoomHistory } from './history.ts';

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
