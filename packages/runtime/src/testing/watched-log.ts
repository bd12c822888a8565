import type { LogEntry, StreamLog } from '../spi/stream-log.ts';

/** What a {@link watchedLog} is told: each call as it is made, before the store answers. */
export interface LogWatch {
  append?(stream: string, entries: readonly LogEntry[]): void;
  read?(stream: string, after: number): void;
}

/** What a {@link watchedLog} says of itself instead of what its store says. */
export interface WatchedLogOptions {
  readonly name?: string;
  readonly durable?: boolean;
  readonly shared?: boolean;
  readonly batchAppends?: boolean;
  /** Answer appends in a later microtask, as an asynchronous store (SQLite's batches, Redis) does. */
  readonly deferred?: boolean;
}

/**
 * A stream log that does what `inner` does and tells `watch` of each append and read: for tests that count or
 * time a store's calls (how many appends a burst costs, how many reads a poll loop makes) against a real store.
 * `options` changes what the log says of itself (its name, `durable`, `shared`, `batchAppends`); a fencing store's
 * fences go through.
 */
export function watchedLog(inner: StreamLog, watch: LogWatch, options: WatchedLogOptions = {}): StreamLog {
  const batchAppends = options.batchAppends ?? inner.batchAppends;
  const log: StreamLog = {
    name: options.name ?? inner.name,
    durable: options.durable ?? inner.durable,
    shared: options.shared ?? inner.shared,
    ...(batchAppends === undefined ? {} : { batchAppends }),
    ...(inner.fencing === true && inner.fence !== undefined
      ? { fencing: true, fence: inner.fence.bind(inner) }
      : {}),
    append(stream, entries, appendOptions) {
      watch.append?.(stream, entries);
      const position = inner.append(stream, entries, appendOptions);
      return options.deferred === true ? Promise.resolve(position) : position;
    },
    read(stream, after, readOptions) {
      watch.read?.(stream, after);
      return inner.read(stream, after, readOptions);
    },
    state: (stream) => inner.state(stream),
    trim: (stream, before) => inner.trim(stream, before),
    delete: (stream) => inner.delete(stream),
    close: () => inner.close(),
  };
  if (inner.sweep !== undefined) {
    const sweep = inner.sweep.bind(inner);
    return { ...log, sweep: (now) => sweep(now) };
  }
  return log;
}
