/**
 * The log SPI (provider kind `stream-log`): where every delivered message of a stream — a broadcaster, an AI
 * run, a room — gets its position, and where a subscriber that comes back (to this process, another node, a
 * restarted server) finds what it missed. The memory store is the runtime's default; SQLite, Redis Streams
 * and Kafka stores live in other packages and run the same contract suite
 * (`@atmosphere/runtime/testing/stream-log-contract`).
 *
 * The runtime keeps the per-client delivery state (what each client was written, confirmed, is owed); a
 * store only keeps streams. That is what lets a store be written outside the runtime.
 */

import type { StreamPosition } from '@atmosphere/protocol';

export type { StreamPosition };

/** Most entries of one batched `append` to a store that takes a turn's appends together ({@link StreamLog.batchAppends}). */
export const BATCH_ENTRIES = 1_000;
/** Most payload of one batched `append`: characters of text, bytes of binary (a single larger entry goes alone). */
export const BATCH_PAYLOAD = 512 * 1024;

/** What an entry's payload counts against {@link BATCH_PAYLOAD}: its characters (text) or bytes (binary). */
export function payloadSize(payload: string | Uint8Array): number {
  return typeof payload === 'string' ? payload.length : payload.byteLength;
}

/** A value, or a promise of it: stores that answer synchronously (memory) cost the hot path no promise. */
export type Awaitable<T> = T | Promise<T>;

/** What is appended: one message as it is delivered (after broadcast filters), with who it is for. */
export interface LogEntry {
  /** Text, or bytes for a binary message; read back exactly (same type, same characters or bytes). */
  readonly payload: string | Uint8Array;
  /** Tracking ids the message is addressed to; absent = every subscriber of the stream. */
  readonly targets?: readonly string[];
  /** A tracking id left out (the sender), for messages to every subscriber. */
  readonly exclude?: string;
}

/** A record of the log: an entry with its sequence number and when it was appended. */
export interface LogRecord extends LogEntry {
  readonly seq: number;
  /** When the store appended it, in ms since the Unix epoch (the store's clock). */
  readonly time: number;
}

/** Where a stream stands. */
export interface StreamState {
  readonly epoch: string;
  /** The seq of the oldest record the store still holds; `last + 1` when it holds none. */
  readonly first: number;
  /** The seq of the newest record appended in this epoch; 0 before the first. */
  readonly last: number;
  /**
   * This epoch goes on from another one: the store came back from a failure that lost its newest records
   * (Redis restarted from a snapshot), so it numbers on under a new epoch, and its records up to
   * `continues.seq` are those of epoch `continues.epoch`. A subscriber in that epoch resumes from there (with a
   * reset: positions after it may have been handed out before) instead of from the new epoch's start. Absent
   * for a stream that did not go through such a failure, or whose history was lost whole.
   */
  readonly continues?: StreamPosition;
}

/** The answer to a read: the stream's state at the time, and the records asked for. */
export interface LogRead extends StreamState {
  /**
   * Records with a seq greater than the one asked after, oldest first, consecutive, at most `limit`. When
   * the store no longer holds some of them (trimmed, expired), the first record returned has a seq greater
   * than `after + 1` — or none is returned while `last > after`: the caller has a gap it must signal.
   */
  readonly records: readonly LogRecord[];
}

/** How much to read at once. */
export interface LogReadOptions {
  /** Most records returned. Default: the store's own (the contract suite asks for at least 1 000). */
  readonly limit?: number;
}

/** Options of one append. */
export interface AppendOptions {
  /**
   * The writer's fencing token for the stream, with a store that declares {@link StreamLog.fencing}: the append
   * is refused — it rejects with `LOG_FENCED` and stores nothing — when the stream was fenced with a greater
   * token ({@link StreamLog.fence}). An append without it is never refused for a fence.
   */
  readonly fence?: number;
}

/**
 * A store of streams. Contract (checked by the contract suite against the real store):
 * - `append` numbers the entries of one call consecutively after the stream's last seq, in a new epoch for
 *   a stream the store does not hold; appends to one stream keep the order in which they were called, even
 *   when the caller does not wait for one before making the next;
 * - an append stores all its entries or none: when it rejects, no entry of it is read back and the next
 *   append goes on from the same seq (no hole); every append waiting on a failed write rejects;
 * - what `read` returns is exactly what was appended (payload type and content, targets, exclude);
 * - `state`/`read` of a stream the store does not hold answer `undefined`; they never create it;
 * - a store that survives a restart (`durable`) keeps each stream's epoch, records and numbering; a store
 *   that lost a stream's history gives it a new epoch at its next append;
 * - after `close()`, every call fails with an `AtmosphereError` of code `CLOSED`;
 * - a store that declares `fencing` refuses, with `LOG_FENCED` and storing nothing, an append whose `fence` is
 *   below the stream's, and numbers on without a hole.
 * Stores bound what they keep (count, bytes, age) and say so in their options; trimming never renumbers.
 */
export interface StreamLog {
  readonly name: string;
  /** True when streams survive the process (SQLite, Redis, Kafka); false for memory. */
  readonly durable: boolean;
  /** True when several nodes share the streams (Redis, Kafka). */
  readonly shared: boolean;
  /**
   * True when the store would rather take the messages of one event-loop turn together: an append of many
   * entries costs it about what an append of one does, and fails only as a whole, for a reason of the store
   * (storage away, disk full, closed) — never because of one entry's content. The broadcaster then makes one
   * `append` per stream per turn holding every message of the turn (up to 1 000 entries or 512 KiB of
   * payload a call), and settles those messages together. Absent or false (the default): one `append` per
   * message, each settled on its own — what a store with a per-entry limit needs, so that one entry it
   * refuses does not take its neighbours with it.
   */
  readonly batchAppends?: boolean;
  /**
   * True when the store fences writers ({@link StreamLog.fence}, {@link AppendOptions.fence}) atomically with
   * the append: what a shared store needs so that a writer that was replaced (an AI run continued on another
   * node after its producer's lease expired) cannot add to the stream any more. Absent or false: no fencing.
   */
  readonly fencing?: boolean;
  /**
   * Appends entries to a stream, all or none; resolves to the position of the first (the others follow, seq + 1
   * each).
   */
  append(stream: string, entries: readonly LogEntry[], options?: AppendOptions): Awaitable<StreamPosition>;
  /**
   * With {@link StreamLog.fencing}: raises the stream's fence to `token` (a fence never goes down). Appends
   * issued after it (to a shared store: from any node) that carry a smaller `fence` are refused with
   * `LOG_FENCED`; those issued before it keep their place. It does not create the stream (`state` and `read`
   * still answer `undefined` for a stream never appended to); `delete` forgets it with the stream.
   */
  fence?(stream: string, token: number): Awaitable<void>;
  /** Records with a seq greater than `after`, in order. */
  read(stream: string, after: number, options?: LogReadOptions): Awaitable<LogRead | undefined>;
  /** Where a stream stands, or `undefined` when the store does not hold it. */
  state(stream: string): Awaitable<StreamState | undefined>;
  /** Drops the records of a stream with a seq below `before` (the numbering goes on). */
  trim(stream: string, before: number): Awaitable<void>;
  /** Forgets a stream: its next append starts a new epoch at seq 1. */
  delete(stream: string): Awaitable<void>;
  /** Periodic upkeep (expiry, size limits); the runtime calls it about once a second. */
  sweep?(now: number): Awaitable<void>;
  /** Releases the store's resources (connections, files). A connection passed in by the application stays open. */
  close(): Promise<void>;
}
