/**
 * Drops the oldest items across several queues until `over()` says enough: a k-way merge on each queue's
 * oldest item (a binary heap on `age`), so a total limit takes the globally oldest items first whatever queue
 * they are in. `drop(queue)` removes that queue's oldest item; `size(queue)` says how many it still holds.
 */
export function dropOldestAcross<Q>(
  queues: Iterable<Q>,
  age: (queue: Q) => number,
  size: (queue: Q) => number,
  drop: (queue: Q) => void,
  over: () => boolean,
): void {
  const heap: Q[] = [];
  for (const queue of queues) if (size(queue) > 0) heap.push(queue);
  const down = (start: number): void => {
    let i = start;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && age(heap[left]!) < age(heap[smallest]!)) smallest = left;
      if (right < heap.length && age(heap[right]!) < age(heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  };
  for (let i = Math.floor(heap.length / 2) - 1; i >= 0; i--) down(i);
  while (over() && heap.length > 0) {
    const queue = heap[0]!;
    drop(queue);
    if (size(queue) === 0) {
      heap[0] = heap[heap.length - 1]!;
      heap.pop();
    }
    down(0);
  }
}
