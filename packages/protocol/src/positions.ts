/**
 * A message's place in its stream (DURABILITY.md §2). `epoch` is a random id that changes whenever the
 * stream's history is lost (a memory store restarted, a Redis key flushed, a SQLite file replaced); `seq`
 * counts 1, 2, 3… within an epoch. The same position means the same message on every node sharing the log.
 */
export interface StreamPosition {
  readonly epoch: string;
  readonly seq: number;
}
