import type { RoomMessage } from './types.ts';
import type { LogRead, StreamLog, StreamPosition } from '@atmosphere/runtime/spi';
import { withMessageId } from './frames.ts';

/** One remembered message: its id, the frame exactly as it was sent, and the message itself. */
export interface HistoryEntry {
  readonly id: number;
  /** The serialised `message` frame, replayed byte for byte. */
  readonly payload: string;
  readonly message: RoomMessage;
}

/**
 * The last `capacity` messages of a room, oldest first, in a ring buffer. Ids only grow, so "everything after
 * id n" is a binary search and a slice: no scan, no duplicates.
 */
export class RoomHistory {
  #entries: (HistoryEntry | undefined)[];
  #start = 0;
  #size = 0;

  constructor(capacity: number) {
    this.#entries = new Array<HistoryEntry | undefined>(capacity);
  }

  get capacity(): number {
    return this.#entries.length;
  }

  get size(): number {
    return this.#size;
  }

  /** The id of the newest entry, or undefined when empty. */
  get lastId(): number | undefined {
    return this.#size === 0 ? undefined : this.#at(this.#size - 1).id;
  }

  #at(index: number): HistoryEntry {
    return this.#entries[(this.#start + index) % this.#entries.length]!;
  }

  /**
   * Records an entry said on another node of a cluster, where its id says (entries arrive there in the order
   * the backplane hands them over, not always in id order): nothing when the id is already kept, or older than
   * everything kept in a full history. Returns whether it was kept.
   */
  insert(entry: HistoryEntry): boolean {
    const last = this.lastId;
    if (last === undefined || entry.id > last) {
      this.push(entry);
      return true;
    }
    const index = this.#indexAfter(entry.id - 1);
    if (index < this.#size && this.#at(index).id === entry.id) return false;
    if (index === 0 && this.#size === this.#entries.length) return false;
    // Rare (a message overtaken on the backplane): rebuild the ring with the entry in its place.
    const entries = this.after(undefined);
    entries.splice(index, 0, entry);
    this.#refill(entries);
    return true;
  }

  /** Adds entries read back from a log (oldest first) to what is kept, in id order, each id once. */
  merge(entries: readonly HistoryEntry[]): void {
    if (entries.length === 0) return;
    if (this.#size === 0 || entries[0]!.id > this.lastId!) {
      for (const entry of entries) if (this.lastId === undefined || entry.id > this.lastId) this.push(entry);
      return;
    }
    const byId = new Map<number, HistoryEntry>();
    for (const entry of entries) byId.set(entry.id, entry);
    for (const entry of this.after(undefined)) byId.set(entry.id, entry);
    this.#refill([...byId.values()].sort((x, y) => x.id - y.id));
  }

  /** Keeps the newest `capacity` of `entries` (in id order). */
  #refill(entries: readonly HistoryEntry[]): void {
    const capacity = this.#entries.length;
    this.#entries = new Array<HistoryEntry | undefined>(capacity);
    this.#start = 0;
    this.#size = 0;
    for (const kept of entries.slice(-capacity)) this.push(kept);
  }

  /** The index of the first entry with an id greater than `id`. */
  #indexAfter(id: number): number {
    let low = 0;
    let high = this.#size;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (this.#at(middle).id <= id) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  /** Appends an entry (its id must be greater than every id before), evicting the oldest when full. */
  push(entry: HistoryEntry): void {
    const capacity = this.#entries.length;
    if (this.#size < capacity) {
      this.#entries[(this.#start + this.#size) % capacity] = entry;
      this.#size++;
      return;
    }
    this.#entries[this.#start] = entry;
    this.#start = (this.#start + 1) % capacity;
  }

  /** Entries with an id greater than `sinceId`, oldest first (all of them when `sinceId` is undefined). */
  after(sinceId: number | undefined): HistoryEntry[] {
    const low = sinceId === undefined ? 0 : this.#indexAfter(sinceId);
    const result: HistoryEntry[] = [];
    for (let i = low; i < this.#size; i++) result.push(this.#at(i));
    return result;
  }

  /** A history of another capacity holding the newest entries of this one. */
  resized(capacity: number): RoomHistory {
    const next = new RoomHistory(capacity);
    const keep = Math.min(capacity, this.#size);
    for (let i = this.#size - keep; i < this.#size; i++) next.push(this.#at(i));
    return next;
  }
}

/** The log stream that keeps a room's history when the stream log is durable. */
export function roomHistoryStream(room: string): string {
  return `room-history:${room}`;
}

/** What a room's history looked like in the log: its newest entries, and the id to number on from. */
export interface LoadedHistory {
  readonly entries: readonly HistoryEntry[];
  /** The greatest id the room ever gave (0 for none): new messages are numbered after it, never reusing one. */
  readonly lastId: number;
}

type Awaitable<T> = T | Promise<T>;

function then<T, R>(value: Awaitable<T>, step: (value: T) => Awaitable<R>): Awaitable<R> {
  return value instanceof Promise ? value.then(step) : step(value);
}

/**
 * A room's history kept on a durable stream log (`room-history:<name>`, one record per message, its payload
 * the `message` frame as it was sent): it survives a restart, and ids go on after the last one ever given. The
 * room keeps the newest `capacity` entries in memory too (its ring), read back from the log when the history is
 * turned on; appends go to the log in the order the room gives ids.
 */
export class LogHistory {
  readonly stream: string;
  /**
   * The log is shared by the nodes of a cluster: a message's id is the seq the log gives its record (so every
   * node numbers from one sequence), and the record holds the frame without its id (see {@link numbered}).
   */
  readonly shared: boolean;
  readonly #log: StreamLog;
  readonly #room: string;
  /** The last append still being written: a delete goes after it. */
  #tail: Promise<unknown> | undefined;

  constructor(log: StreamLog, room: string) {
    this.#log = log;
    this.#room = room;
    this.shared = log.shared;
    this.stream = roomHistoryStream(room);
  }

  /** Reads the newest `capacity` messages back; synchronous when the store is. */
  load(capacity: number): Awaitable<LoadedHistory> {
    return then(this.#log.state(this.stream), (state) => {
      if (state === undefined || state.last === 0) return { entries: [], lastId: 0 };
      const after = Math.max(state.first - 1, state.last - capacity, 0);
      return this.#readFrom(after, state.last, []);
    });
  }

  #readFrom(after: number, last: number, entries: HistoryEntry[]): Awaitable<LoadedHistory> {
    return then(this.#log.read(this.stream, after, { limit: Math.max(1, last - after) }), (read) => {
      const records = read?.records ?? [];
      let next = after;
      for (const record of records) {
        next = record.seq;
        const entry = this.#parse(record.payload, record.seq);
        if (entry !== undefined && (entries.length === 0 || entry.id > entries[entries.length - 1]!.id))
          entries.push(entry);
      }
      if (records.length > 0 && next < last) return this.#readFrom(next, last, entries);
      const newest = entries.length === 0 ? 0 : entries[entries.length - 1]!.id;
      // Ids follow the log's numbering; the newest id read wins should they ever differ.
      return { entries, lastId: Math.max(newest, read?.last ?? last) };
    });
  }

  /**
   * The newest `max` (at most) of the messages with an id greater than `sinceId` and less than `beforeId` that
   * the log still keeps, oldest first: what a member joining with a `sinceId` older than the room's memory window
   * is sent before what memory keeps. Reads at most `max` records, in one read (two when ids ran ahead of the
   * log's numbering), however long the log is: the room's operations wait for it. Synchronous when the store is.
   *
   * Ids never fall behind the log's numbering (a record's id ≥ its seq, and id − seq never shrinks along the
   * stream: each record takes the next seq, each message a greater id). So the records wanted have seqs below
   * `beforeId`, and when ids and seqs are in step — the usual case — they are the `max` seqs right before it.
   * When they are not (an append failed, or the history was turned off and on), the window is moved back by how
   * far ahead the ids are. What this does not return, the caller reports as a gap (see {@link replayGap}).
   */
  between(sinceId: number, beforeId: number, max: number): Awaitable<HistoryEntry[]> {
    if (!(beforeId > sinceId + 1) || !(max > 0)) return [];
    if (!Number.isFinite(beforeId)) {
      // Nothing in memory to bound it: up to the log's newest record.
      return then(this.#log.state(this.stream), (state) =>
        state === undefined || state.last === 0 ? [] : this.between(sinceId, state.last + 1, max),
      );
    }
    const after = Math.max(0, Math.floor(sinceId), beforeId - 1 - max);
    return then(this.#log.read(this.stream, after, { limit: max }), (read) => {
      if (read === undefined) return [];
      const head = read.records[0];
      let from: number | undefined;
      if (head === undefined) {
        // Nothing after seq `after`: ids ran so far ahead that the records wanted all have smaller seqs.
        if (after > 0 && read.last > 0 && read.last <= after) from = Math.max(0, read.last - max);
      } else if (after > 0 && read.first <= after) {
        const ahead = (this.#parse(head.payload, head.seq)?.id ?? head.seq) - head.seq;
        if (ahead > 0) from = Math.max(0, after - ahead);
      }
      if (from === undefined) return this.#within(read.records, sinceId, beforeId, max);
      return then(this.#log.read(this.stream, from, { limit: max }), (earlier) =>
        this.#within(earlier?.records ?? [], sinceId, beforeId, max),
      );
    });
  }

  /** The newest `max` entries of `records` with an id in (sinceId, beforeId), in id order, each id once. */
  #within(records: LogRead['records'], sinceId: number, beforeId: number, max: number): HistoryEntry[] {
    const entries: HistoryEntry[] = [];
    for (const record of records) {
      const entry = this.#parse(record.payload, record.seq);
      if (entry === undefined || entry.id <= sinceId) continue;
      if (entry.id >= beforeId) break;
      if (entries.length === 0 || entry.id > entries[entries.length - 1]!.id) entries.push(entry);
    }
    return entries.length > max ? entries.slice(entries.length - max) : entries;
  }

  /**
   * A record as a history entry: its frame's id, or — a frame kept without id on a shared log — the record's
   * seq, spliced into the frame.
   */
  #parse(payload: string | Uint8Array, seq: number): HistoryEntry | undefined {
    if (typeof payload !== 'string') return undefined;
    const entry = parseMessageFrame(this.#room, payload);
    if (entry === undefined) return undefined;
    const id = entry.id;
    if (id !== undefined) return { id, payload, message: entry.message };
    if (!this.shared) return undefined;
    return {
      id: seq,
      payload: withMessageId(this.#room, payload, seq),
      message: { ...entry.message, id: seq },
    };
  }

  /**
   * On a shared log: appends a message's frame made without id, and resolves with the id the log gave it (its
   * record's seq). Rejects when the log refuses it.
   */
  numbered(payload: string): Promise<number> {
    return Promise.resolve(this.append(payload)).then((position) => position.seq);
  }

  /** Appends one message's frame (the caller gives ids in order); resolves once the store has it. */
  append(payload: string): Awaitable<StreamPosition> {
    const appended = this.#log.append(this.stream, [{ payload }]);
    if (appended instanceof Promise) {
      const tail = appended.then(
        () => undefined,
        () => undefined,
      );
      this.#tail = tail;
      void tail.then(() => {
        if (this.#tail === tail) this.#tail = undefined;
      });
    }
    return appended;
  }

  /** Forgets the history (turned off), once the appends before have been written. */
  delete(): Awaitable<void> {
    const tail = this.#tail;
    return tail === undefined
      ? this.#log.delete(this.stream)
      : tail.then(() => this.#log.delete(this.stream));
  }
}

/**
 * The history a member joining with `sinceId` is sent: the newest `max` (at most) of the messages after it —
 * what memory keeps, preceded, when `sinceId` is older than the memory window and the history is kept on a
 * durable log, by older ones read back from the log (those it still keeps; at most what `max` leaves). The
 * messages after `sinceId` that this leaves out are the gap {@link replayGap} names. Synchronous when the store
 * is (memory, SQLite).
 */
export function historyAfter(
  history: RoomHistory,
  store: LogHistory | undefined,
  sinceId: number,
  max: number,
): Awaitable<HistoryEntry[]> {
  const recent = history.after(sinceId);
  if (recent.length >= max) return recent.slice(recent.length - max);
  if (store === undefined) return recent;
  // Memory's oldest message after `sinceId`; nothing in memory after it while memory holds some: up to date.
  const oldest = recent[0]?.id ?? (history.lastId === undefined ? Number.POSITIVE_INFINITY : undefined);
  if (oldest === undefined || oldest <= sinceId + 1) return recent;
  return then(store.between(sinceId, oldest, max - recent.length), (older) =>
    older.length === 0 ? recent : [...older, ...recent],
  );
}

/** Messages after a join's `sinceId` that its replay does not hold: ids `from` to `resumeAt - 1`. */
export interface ReplayGap {
  readonly from: number;
  /** The first id replayed, or the id after the newest when nothing is. */
  readonly resumeAt: number;
  /** The replay bound (`maxReplay`) left them out; otherwise the history no longer keeps them. */
  readonly bounded: boolean;
}

/**
 * The gap before a join's replay: the ids after `sinceId` before the first one replayed (or, with nothing
 * replayed, up to `newestId`, the newest id the room gave), when there are any. Ids only grow, so a replay
 * that does not start right after `sinceId` misses what lies between.
 */
export function replayGap(
  entries: readonly HistoryEntry[],
  sinceId: number,
  newestId: number,
  max: number,
): ReplayGap | undefined {
  const from = Math.floor(sinceId) + 1;
  const resumeAt = entries[0]?.id ?? newestId + 1;
  if (resumeAt <= from) return undefined;
  return { from, resumeAt, bounded: newestId - sinceId > max };
}

/**
 * A room's `message` frame as history keeps it; `id` undefined when the frame has none (as a shared log keeps
 * it). Undefined for anything else.
 */
export function parseMessageFrame(
  room: string,
  payload: string,
): { id: number | undefined; payload: string; message: RoomMessage } | undefined {
  try {
    const frame = JSON.parse(payload) as { type?: unknown; id?: unknown; from?: unknown; data?: unknown };
    if (frame.type !== 'message' || frame.data === undefined) return undefined;
    let id: number | undefined;
    if (frame.id !== undefined) {
      if (typeof frame.id !== 'number' || !Number.isSafeInteger(frame.id)) return undefined;
      id = frame.id;
    }
    const message: { room: string; id?: number; from?: string; data: unknown } = { room, data: frame.data };
    if (id !== undefined) message.id = id;
    if (typeof frame.from === 'string') message.from = frame.from;
    return { id, payload, message };
  } catch {
    return undefined;
  }
}
