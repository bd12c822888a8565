import { expect, test } from 'vitest';
import { OrderedQueue } from './ordered-queue.ts';

test('operations submitted while one runs wait for it; a blocked operation holds back the rest until resumed', () => {
  const log: string[] = [];
  let blocked = true;
  const queue: OrderedQueue<string> = new OrderedQueue<string>(
    (op) => {
      log.push(op);
      if (op === 'a') queue.submit('a-child');
    },
    (op) => op.startsWith('wait') && blocked,
  );
  queue.submit('a');
  queue.submit('b');
  expect(log).toEqual(['a', 'a-child', 'b']);
  queue.submit('wait-1');
  queue.submit('c');
  expect(log).toEqual(['a', 'a-child', 'b']);
  expect(queue.size).toBe(2);
  blocked = false;
  queue.resume();
  expect(log).toEqual(['a', 'a-child', 'b', 'wait-1', 'c']);
  blocked = true;
  queue.submit('wait-2');
  queue.submit('d');
  expect(queue.drain()).toEqual(['wait-2', 'd']);
  expect(queue.size).toBe(0);
});
