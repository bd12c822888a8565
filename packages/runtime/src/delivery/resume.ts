import { resetFrame, type StreamPosition, type StreamReset } from '@atmosphere/protocol';
import type { Logger } from '../spi/logger.ts';
import type { StreamResetReason } from '../telemetry/runtime-telemetry.ts';
import type { LogRead, LogRecord, StreamLog } from '../spi/stream-log.ts';
import { DROP, DropReset, KEEP, PULL } from './client-queue.ts';
import { EncodedMessage } from './encoded-message.ts';
import type { ClientResource } from './resource.ts';

/** Pages of the log one resume reads at most (each as large as the store's own read limit). */
const MAX_PAGES = 16;

function isPromise<T>(value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/** What a resume read: the stream's state when it was read, and every record after the point asked for. */
interface Collected {
  readonly state: LogRead | undefined;
  readonly records: LogRecord[];
  /** False when the page cap stopped the read before the stream's last record. */
  readonly complete: boolean;
}

/** Reads the records of `stream` after `after`, page by page, synchronously when the store is. */
function collect(log: StreamLog, stream: string, after: number): Collected | Promise<Collected> {
  const records: LogRecord[] = [];
  let first: LogRead | undefined;
  const step = (read: LogRead | undefined, page: number): Collected | Promise<Collected> => {
    first ??= read;
    if (read === undefined) return { state: first, records, complete: true };
    for (const record of read.records) records.push(record);
    const last = records.length === 0 ? after : records[records.length - 1]!.seq;
    if (read.records.length === 0 || last >= read.last || read.epoch !== first!.epoch)
      return { state: first, records, complete: true };
    if (page + 1 >= MAX_PAGES) return { state: first, records, complete: false };
    const next = log.read(stream, last);
    return isPromise<LogRead | undefined>(next)
      ? next.then((value) => step(value, page + 1))
      : step(next, page + 1);
  };
  const read = log.read(stream, after);
  return isPromise<LogRead | undefined>(read) ? read.then((value) => step(value, 0)) : step(read, 0);
}

function forResource(record: LogRecord, id: string): boolean {
  return record.targets !== undefined ? record.targets.includes(id) : record.exclude !== id;
}

function resetMessage(stream: string, reset: StreamReset): EncodedMessage {
  return new EncodedMessage(resetFrame(reset), stream, undefined, true);
}

/**
 * Resumes `stream` for a client that came back with its cursor (DURABILITY.md §1, §3): the resource is
 * already subscribed (live messages queue for it), so the log is read from the cursor up to where the
 * stream stands, the replay goes before anything pending, and pending messages the replay covers leave the
 * queue (deduplicated by position): no seam, nothing twice. When the log cannot serve the cursor — it no
 * longer holds the next record, the stream has another epoch (its history was lost: a memory store
 * restarted), or it does not know the stream — the client gets a reset frame naming where its gap starts,
 * before any newer message of the stream, then what the log still holds. With an asynchronous store the
 * resource writes nothing until the read is done.
 */
export function resumeStream(
  resource: ClientResource,
  stream: string,
  cursor: StreamPosition,
  log: StreamLog,
  logger: Logger,
): void {
  const failed = (error: unknown): void => {
    logger.error(
      `resource ${resource.id}: the stream log ${log.name} could not be read to resume ${stream}`,
      {
        error,
      },
    );
    finish(resource, stream, cursor, undefined, true);
  };
  // What the queue lost of the stream until now is in the log as the read is about to see it (a message is
  // delivered once its append is done): the read accounts for it, so the mark goes now, not when the read is
  // done. A message lost from now on (a backpressure drop, the cache's total cap, while an asynchronous store
  // answers) may be newer than what the read returns, and the reset frames of `finish` do not cover one newer
  // than a message it keeps: the stream stays marked, and the next resume reads the log from the client's
  // cursor instead of taking the queue as exact. A gap the read signals is never signalled again: the
  // client's next cursor is past it.
  resource.queue.found(stream);
  let collected: Collected | Promise<Collected>;
  try {
    collected = collect(log, stream, cursor.seq);
  } catch (error) {
    failed(error);
    return;
  }
  if (!isPromise<Collected>(collected)) {
    const more = continueWith(resource, stream, cursor, log, collected, failed);
    if (more !== undefined) {
      resource.hold();
      void more.finally(() => resource.release());
    }
    return;
  }
  resource.hold();
  collected
    .then((value) => continueWith(resource, stream, cursor, log, value, failed), failed)
    .finally(() => resource.release());
}

/**
 * The read is done: a foreign epoch reads the new epoch from its start (or from where it goes on from the
 * client's epoch), then the outcome is queued.
 */
function continueWith(
  resource: ClientResource,
  stream: string,
  cursor: StreamPosition,
  log: StreamLog,
  collected: Collected,
  failed: (error: unknown) => void,
): void | Promise<void> {
  const state = collected.state;
  if (state === undefined || state.epoch === cursor.epoch) {
    finish(resource, stream, cursor, collected, false);
    return;
  }
  // Another epoch: the client's history is gone; what the new epoch holds is all there is to send — from where
  // it goes on from the client's epoch when it does (the log lost only its newest records): what the client
  // has is not sent again.
  const continued = state.continues;
  const again = collect(
    log,
    stream,
    continued !== undefined && continued.epoch === cursor.epoch ? Math.min(cursor.seq, continued.seq) : 0,
  );
  if (!isPromise<Collected>(again)) {
    finish(resource, stream, cursor, again, false);
    return;
  }
  return again.then((value) => finish(resource, stream, cursor, value, false), failed);
}

function finish(
  resource: ClientResource,
  stream: string,
  cursor: StreamPosition,
  collected: Collected | undefined,
  failed: boolean,
): void {
  const from = { epoch: cursor.epoch, seq: cursor.seq + 1 };
  const state = collected?.state;
  if (failed || state === undefined) {
    // The log cannot say (it failed) or does not know the stream: whatever came after the cursor and is
    // not in this client's queue is lost.
    const telemetry = resource.telemetry;
    if (telemetry.metricsOn) telemetry.streamReset('unknown');
    resource.resumeWith(
      (message) => (hasClientIt(message, stream, cursor) ? DROP : KEEP),
      [resetMessage(stream, { stream, from })],
      [],
    );
    return;
  }
  const records = collected!.records;
  const sameEpoch = state.epoch === cursor.epoch;
  const next = records.length > 0 ? records[0]!.seq : state.last + 1;
  const before: EncodedMessage[] = [];
  let reset: StreamResetReason | undefined;
  if (!sameEpoch) {
    reset = 'epoch';
    before.push(resetMessage(stream, { stream, from, resumeAt: { epoch: state.epoch, seq: next } }));
  } else if (cursor.seq > state.last) {
    // The client has positions the log never kept (a store that lost its last appends): the stream goes on
    // from the log's numbering, so the client must forget its own.
    reset = 'ahead';
    const at = { epoch: state.epoch, seq: state.last + 1 };
    before.push(resetMessage(stream, { stream, from: at, resumeAt: at }));
  } else if (next > cursor.seq + 1) {
    reset = 'trimmed';
    before.push(resetMessage(stream, { stream, from, resumeAt: { epoch: state.epoch, seq: next } }));
  }
  const id = resource.id;
  const after: EncodedMessage[] = [];
  for (const record of records) {
    if (!forResource(record, id)) continue;
    const message = new EncodedMessage(record.payload, stream);
    message.position = { epoch: state.epoch, seq: record.seq };
    after.push(message);
  }
  const through = collected!.complete
    ? state.last
    : records.length > 0
      ? records[records.length - 1]!.seq
      : cursor.seq;
  if (!collected!.complete)
    after.push(resetMessage(stream, { stream, from: { epoch: state.epoch, seq: through + 1 } }));
  const telemetry = resource.telemetry;
  if (telemetry.metricsOn) {
    if (reset !== undefined) telemetry.streamReset(reset);
    if (!collected!.complete) telemetry.streamReset('truncated');
    const replayed = collected!.complete ? after.length : after.length - 1;
    if (replayed > 0) telemetry.streamReplayed.add(replayed);
  }
  const epoch = state.epoch;
  resource.resumeWith(
    (message) => {
      // The reset frame of a backpressure gap the replay fills: the client gets those messages after all.
      if (message instanceof DropReset)
        return message.stream === stream && message.last.epoch === epoch && message.last.seq <= through
          ? DROP
          : KEEP;
      if (message.source !== stream || message.control || message.position === undefined) return KEEP;
      if (message.position.epoch !== epoch) return hasClientIt(message, stream, cursor) ? DROP : KEEP;
      const seq = message.position.seq;
      if (sameEpoch && seq <= cursor.seq) return DROP;
      // What the log no longer holds but this queue does goes first: less for the client to refetch.
      if (seq < next) return PULL;
      return seq <= through ? DROP : KEEP;
    },
    before,
    after,
  );
  if (through > 0) resource.handedThrough(stream, { epoch, seq: through });
}

/** A pending message of `stream` at or before the client's cursor: it has it already. */
function hasClientIt(message: EncodedMessage, stream: string, cursor: StreamPosition): boolean {
  const position = message.position;
  return (
    message.source === stream &&
    !message.control &&
    position !== undefined &&
    position.epoch === cursor.epoch &&
    position.seq <= cursor.seq
  );
}

/**
 * A client that came back to its resource. When the resource was handed every message of `stream` after
 * the client's cursor (its first one of the stream is at or before the cursor's next) and its queue lost
 * none of them, the queue is exact: only what the client already has leaves it. Otherwise the stream
 * resumes from the log (`resumeStream`).
 */
export function resumeExisting(
  resource: ClientResource,
  stream: string,
  cursor: StreamPosition,
  log: StreamLog,
  logger: Logger,
): void {
  const first = resource.firstDelivered(stream);
  if (
    resource.queue.lost?.has(stream) ||
    first === undefined ||
    first.epoch !== cursor.epoch ||
    first.seq > cursor.seq + 1
  ) {
    resumeStream(resource, stream, cursor, log, logger);
    return;
  }
  resource.resumeWith((message) => (hasClientIt(message, stream, cursor) ? DROP : KEEP), [], []);
}
