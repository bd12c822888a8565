import { resetFrame, type StreamPosition } from '@atmosphere/protocol';
import { ChurnMap } from '../util/churn-map.ts';
import { Deque, EMPTY_DEQUE, type ReadonlyDeque } from '../util/deque.ts';
import { dropOldestAcross } from '../util/drop-oldest.ts';
import { EncodedMessage } from './encoded-message.ts';

/** Where `ClientQueue.splice` puts a pending message. */
export type Placement = 0 | 1 | 2;
export const KEEP: Placement = 0;
export const DROP: Placement = 1;
export const PULL: Placement = 2;

/** The knobs of the missed-message cache (the clients' queues). Defaults are PROTOCOL.md §6. */
export interface CacheLimits {
  /** Messages kept per client; the oldest is dropped past it. Default 1000. */
  maxPerClient: number;
  /** A queued message older than this is dropped. Default 300 000 ms. */
  messageTtlMs: number;
  /** Messages queued for absent clients in total; the oldest go first past it. Default 100 000. */
  maxTotal: number;
  /** A client away longer than this is forgotten, with everything queued for it. Default 60 000 ms. */
  clientTtlMs: number;
  /** How often expired messages and the total are enforced. Default 1 000 ms. */
  sweepIntervalMs: number;
}

export const DEFAULT_CACHE_LIMITS: Readonly<CacheLimits> = Object.freeze({
  maxPerClient: 1000,
  messageTtlMs: 300_000,
  maxTotal: 100_000,
  clientTtlMs: 60_000,
  sweepIntervalMs: 1_000,
});

/**
 * The reset frame of a gap backpressure made in a stream of a connected client that asked for positions
 * (`ClientQueue.dropNewest`, `ClientQueue.dropOldest` with `signal`): it waits in the queue where the first
 * dropped message was, so it reaches the client before the next message of the stream. `from` is the first
 * position dropped, `last` the last one (the run grows while the frame waits); `tail` says which end of the
 * queue the run was taken from. The frame written names where the stream resumes when the queue then holds
 * its next message (`ClientQueue.next`).
 */
export class DropReset extends EncodedMessage {
  readonly stream: string;
  readonly from: StreamPosition;
  last: StreamPosition;
  readonly tail: boolean;

  constructor(stream: string, from: StreamPosition, tail: boolean) {
    super(resetFrame({ stream, from }), stream, undefined, true);
    this.stream = stream;
    this.from = from;
    this.last = from;
    this.tail = tail;
  }
}

/** Bits of a queue's flags. */
const RETAIN_WRITTEN = 1;
/** Counted in the cache's `awayBytes` (its client is away after a lost or cut connection). */
const AWAY = 2;

/** How much the clients' queues hold. */
export interface CacheStats {
  clients: number;
  /** Messages waiting to be written (queued for absent or congested clients). */
  pending: number;
  /** Messages written but not yet confirmed by the client. */
  unconfirmed: number;
}

/**
 * The queue of one tracking id: messages waiting to be written (`pending`) and messages written but not
 * confirmed (`unconfirmed`). Written messages are numbered 1, 2, 3… per tracking id; a client that reports
 * how many it received (`X-Atmosphere-Received`) gets exactly the rest again on reconnect.
 *
 * Ordering contract: messages are written in the order they were queued, replayed ones before anything
 * queued after them; a message is never written twice unless the client reported it missing.
 */
export class ClientQueue {
  readonly trackingId: string;
  /**
   * Both deques are made on first use and dropped once empty again: an idle connection (nothing waiting,
   * nothing unconfirmed — every client that does not report counts) holds neither.
   */
  #pending: Deque<EncodedMessage> | undefined;
  #unconfirmed: Deque<EncodedMessage> | undefined;
  /** Number of messages written to the client so far (the seq of the last one). */
  writtenSeq = 0;
  /**
   * Whether written messages are kept (as `unconfirmed`) until the client confirms them. Only a client that
   * reports its count on reconnect can ever get them again, so the resource turns this off for clients that
   * do not (atmosphere.js, wAsync): for them written counts as delivered, and keeping messages buys nothing.
   */
  get retainWritten(): boolean {
    return (this.#flags & RETAIN_WRITTEN) !== 0;
  }

  set retainWritten(retain: boolean) {
    this.#flags = retain ? this.#flags | RETAIN_WRITTEN : this.#flags & ~RETAIN_WRITTEN;
  }

  /** Messages dropped by limits (TTL, size, backpressure) since creation. */
  dropped = 0;
  /** Bytes of the messages in `pending` (their payloads), for the per-client byte bound. */
  pendingBytes = 0;
  /**
   * Bytes waiting when the client (re)connected — what was queued while it was away and what it had not
   * confirmed: the byte bound allows that much on top of itself until the queue has drained, so a client
   * catching up is never cut for its own backlog.
   */
  replayAllowance = 0;
  /** The same for the count bound (`highWaterMark`): the messages waiting when the client (re)connected. */
  replayCount = 0;
  /** Counted in the cache's `awayBytes` (its client is away after a lost or cut connection). */
  /** `RETAIN_WRITTEN` and `AWAY`: one small integer instead of a field each. */
  #flags = RETAIN_WRITTEN;
  /**
   * Streams of which a positioned message left the queue without reaching the client for sure (dropped by a
   * limit, or written without the client confirming what it gets): a client that comes back with its cursor
   * of one of them resumes it from the stream log; for the others the queue alone is exact.
   */
  lost: Set<string> | undefined;
  /** The stream `#lose` added to `lost` last: a client that keeps nothing loses every message, one lookup less. */
  #lastLost: string | undefined;
  /**
   * The reset frames of backpressure drops still open, by stream: a further drop of the stream extends the
   * gap the frame names instead of adding another. One taken from the front (`drop-oldest`) stays open until
   * it is written (every message of the stream waits behind it); one at the tail (`drop-newest`) until a
   * message of the stream is queued behind it.
   */
  #gaps: Map<string, DropReset> | undefined;
  readonly #cache: ClientQueues;

  constructor(trackingId: string, cache: ClientQueues) {
    this.trackingId = trackingId;
    this.#cache = cache;
  }

  /** Messages waiting to be written, oldest first (read-only: the queue's methods change it). */
  get pending(): ReadonlyDeque<EncodedMessage> {
    return this.#pending ?? EMPTY_DEQUE;
  }

  /** Messages written but not confirmed by the client, oldest first (read-only). */
  get unconfirmed(): ReadonlyDeque<EncodedMessage> {
    return this.#unconfirmed ?? EMPTY_DEQUE;
  }

  /** Whether this queue's pending bytes count in the cache's `awayBytes` (the server-wide away cap). */
  get away(): boolean {
    return (this.#flags & AWAY) !== 0;
  }

  set away(away: boolean) {
    if (away === this.away) return;
    this.#flags = away ? this.#flags | AWAY : this.#flags & ~AWAY;
    this.#cache.awayBytes += away ? this.pendingBytes : -this.pendingBytes;
  }

  #addBytes(bytes: number): void {
    this.pendingBytes += bytes;
    if ((this.#flags & AWAY) !== 0) this.#cache.awayBytes += bytes;
  }

  /**
   * Queues a message; past the per-client limit the oldest pending ones are dropped, unless `capped` is false
   * (the client is connected: backpressure bounds its queue; or a resume is reading the log: what waits now
   * goes behind the replay, see `ClientResource.deliver`). A queue left longer than the limit by then (a
   * resume that read the log while the client was away) is brought back to it.
   */
  enqueue(message: EncodedMessage, capped = true): void {
    if (capped) this.trim(Math.max(0, this.#cache.limits.maxPerClient - 1));
    const gaps = this.#gaps;
    if (gaps !== undefined && message.source !== undefined && gaps.get(message.source)?.tail === true) {
      gaps.delete(message.source);
      if (gaps.size === 0) this.#gaps = undefined;
    }
    message.kept();
    (this.#pending ??= new Deque()).push(message);
    this.#addBytes(message.size);
    this.#cache.pendingCount++;
  }

  /**
   * Drops the oldest pending messages past `max` (by default the per-client limit): a client gone away keeps
   * what the missed-message cache allows; each one dropped marks its stream lost. Control frames stay.
   */
  trim(max = this.#cache.limits.maxPerClient): void {
    while (this.pending.length > max && this.dropOldest());
  }

  /**
   * Drops the oldest pending message that is not a control frame (backpressure `drop-oldest`, cache
   * limits): a reset frame is the signal of a gap, not data, and keeps its place. With `signal` (a connected
   * client that asked for positions), a positioned message dropped is signalled: a reset frame of its stream
   * goes where it was, unless one already waits there for the run it continues. False when nothing but
   * control frames (or nothing) waits.
   */
  dropOldest(signal = false): boolean {
    const pending = this.#pending;
    if (pending === undefined) return false;
    let controls = 0;
    while (controls < pending.length && pending.at(controls)!.control) controls++;
    if (controls === pending.length) return false;
    const held: EncodedMessage[] = [];
    for (let i = 0; i < controls; i++) held.push(pending.shift()!);
    const dropped = pending.shift()!;
    this.#addBytes(-dropped.size);
    this.#cache.pendingCount--;
    this.dropped++;
    this.#lose(dropped);
    const reset = signal ? this.#gap(dropped, false) : undefined;
    if (reset !== undefined) pending.unshift(reset);
    for (let i = held.length - 1; i >= 0; i--) pending.unshift(held[i]!);
    if (pending.length === 0) this.#pending = undefined;
    return true;
  }

  /**
   * Drops `message` instead of queuing it (backpressure `drop-newest`). With `signal`, as `dropOldest`: a
   * reset frame of its stream goes at the tail, unless one waits there already with nothing of the stream
   * queued behind it.
   */
  dropNewest(message: EncodedMessage, signal = false): void {
    this.dropped++;
    this.#lose(message);
    const reset = signal ? this.#gap(message, true) : undefined;
    if (reset !== undefined) (this.#pending ??= new Deque()).push(reset);
  }

  /**
   * The reset frame to queue for `dropped` (counted in the queue), or undefined when it has no position or
   * extends a run whose frame still waits.
   */
  #gap(dropped: EncodedMessage, tail: boolean): DropReset | undefined {
    const stream = dropped.source;
    const position = dropped.position;
    if (stream === undefined || position === undefined || dropped.control) return undefined;
    const open = this.#gaps?.get(stream);
    if (open !== undefined) {
      open.last = position;
      return undefined;
    }
    const reset = new DropReset(stream, position, tail);
    (this.#gaps ??= new Map()).set(stream, reset);
    reset.kept();
    this.#addBytes(reset.size);
    this.#cache.pendingCount++;
    return reset;
  }

  /** Drops the first pending message, whatever it is (the server-wide total when only control frames are left). */
  #dropFirst(): void {
    const dropped = this.#shiftPending();
    if (dropped === undefined) return;
    this.#addBytes(-dropped.size);
    this.#cache.pendingCount--;
    if (dropped instanceof DropReset) this.#closeGap(dropped);
    else {
      this.dropped++;
      this.#lose(dropped);
    }
  }

  /** @internal The server-wide total: the oldest message that is not a control frame, else the first one. */
  shed(): void {
    if (!this.dropOldest()) this.#dropFirst();
  }

  #closeGap(reset: DropReset): void {
    const gaps = this.#gaps;
    if (gaps?.get(reset.stream) !== reset) return;
    gaps.delete(reset.stream);
    if (gaps.size === 0) this.#gaps = undefined;
  }

  /**
   * The reset frame a `DropReset` is written as: where the gap starts, and where the stream resumes when
   * its next message waits in the queue (the first one there is the next the client gets).
   */
  #resetOf(reset: DropReset): EncodedMessage {
    this.#closeGap(reset);
    let resumeAt: StreamPosition | undefined;
    for (const message of this.pending) {
      if (message.source === reset.stream && !message.control && message.position !== undefined) {
        resumeAt = message.position;
        break;
      }
    }
    if (resumeAt === undefined) return reset;
    return new EncodedMessage(
      resetFrame({ stream: reset.stream, from: reset.from, resumeAt }),
      reset.stream,
      reset.createdAt,
      true,
    );
  }

  /** Takes the next message to write and records it as written-but-unconfirmed. */
  next(): EncodedMessage | undefined {
    let message = this.#shiftPending();
    if (message === undefined) return undefined;
    this.#addBytes(-message.size);
    if (this.pending.length === 0) {
      this.replayAllowance = 0;
      this.replayCount = 0;
    }
    this.#cache.pendingCount--;
    if (message instanceof DropReset) message = this.#resetOf(message);
    this.recordWritten(message);
    return message;
  }

  /** Records a message written without passing through `pending` (the common, uncongested case). */
  recordWritten(message: EncodedMessage): void {
    this.writtenSeq++;
    if ((this.#flags & RETAIN_WRITTEN) === 0) {
      this.#lose(message);
      return;
    }
    message.kept();
    const unconfirmed = (this.#unconfirmed ??= new Deque());
    unconfirmed.push(message);
    this.#cache.unconfirmedCount++;
    if (unconfirmed.length > this.#cache.limits.maxPerClient) {
      this.#lose(unconfirmed.shift());
      this.#cache.unconfirmedCount--;
    }
  }

  /**
   * Drops the control frames that wait (the reset frames of drops), for a client that came back without
   * positions: they are written only to clients that asked for positions.
   */
  dropControls(): void {
    const pending = this.#pending;
    if (pending === undefined) return;
    let controls = 0;
    for (const message of pending) if (message.control) controls++;
    if (controls === 0) return;
    const kept: EncodedMessage[] = [];
    for (let message = this.#shiftPending(); message !== undefined; message = this.#shiftPending()) {
      if (!message.control) {
        kept.push(message);
        continue;
      }
      this.#addBytes(-message.size);
      this.#cache.pendingCount--;
    }
    this.#gaps = undefined;
    if (kept.length === 0) return;
    const next = (this.#pending = new Deque());
    for (const message of kept) next.push(message);
  }

  /** The oldest pending message, taken off; the deque goes once empty. */
  #shiftPending(): EncodedMessage | undefined {
    const pending = this.#pending;
    if (pending === undefined) return undefined;
    const message = pending.shift();
    if (pending.length === 0) this.#pending = undefined;
    return message;
  }

  /** Drops `count` unconfirmed messages from the front; the deque goes once empty. */
  #dropUnconfirmed(count: number): void {
    const unconfirmed = this.#unconfirmed;
    if (unconfirmed === undefined) return;
    const n = Math.min(count, unconfirmed.length);
    if (n <= 0) return;
    unconfirmed.dropFront(n);
    this.#cache.unconfirmedCount -= n;
    if (unconfirmed.length === 0) this.#unconfirmed = undefined;
  }

  /** Records that `message` may not reach the client (see `lost`). */
  #lose(message: EncodedMessage | undefined): void {
    if (message?.position === undefined) return;
    const source = message.source;
    if (source === undefined || source === this.#lastLost) return;
    (this.lost ??= new Set()).add(source);
    this.#lastLost = source;
  }

  /**
   * A resume of `stream` starts reading the log: what it lost so far is accounted for by that read. What it
   * loses while the read is under way marks it again (see `resumeStream`).
   */
  found(stream: string): void {
    this.lost?.delete(stream);
    if (this.#lastLost === stream) this.#lastLost = undefined;
  }

  /** The client confirmed it received every message up to `seq`. */
  confirm(seq: number): void {
    const firstSeq = this.writtenSeq - this.unconfirmed.length + 1;
    const count = Math.min(seq - firstSeq + 1, this.unconfirmed.length);
    this.#dropUnconfirmed(count);
  }

  /**
   * On reconnect: the client says it has received `received` messages in all (undefined: it cannot say, so
   * everything written counts as delivered). Unconfirmed messages after that point go back to the front of
   * the pending queue, and numbering continues from the client's count.
   */
  rewind(received: number | undefined): number {
    // What goes back to the front may be older than a waiting reset frame: a later drop opens its own run.
    this.#gaps = undefined;
    if (received === undefined || received >= this.writtenSeq) {
      this.#dropUnconfirmed(this.unconfirmed.length);
      if (received !== undefined) this.writtenSeq = received;
      return 0;
    }
    const firstSeq = this.writtenSeq - this.unconfirmed.length + 1;
    const confirmedCount = Math.max(0, Math.min(received - firstSeq + 1, this.unconfirmed.length));
    this.#dropUnconfirmed(confirmedCount);
    const unconfirmed = this.#unconfirmed;
    const resend = unconfirmed?.length ?? 0;
    if (unconfirmed !== undefined) {
      const pending = (this.#pending ??= new Deque());
      while (unconfirmed.length > 0) {
        const message = unconfirmed.pop()!;
        pending.unshift(message);
        this.#addBytes(message.size);
        this.#cache.unconfirmedCount--;
        this.#cache.pendingCount++;
      }
      this.#unconfirmed = undefined;
    }
    this.writtenSeq = received;
    return resend;
  }

  /**
   * A resume from the stream log (a client that presented its cursor of a stream). `classify` sorts the
   * pending messages: `KEEP` stays where it is, `DROP` leaves the queue (the client has it, or the replay
   * carries it), `PULL` moves to the front (a message of the stream the log no longer holds, but this
   * queue does). The front is then `before` (the reset frame), the pulled messages in their order, and
   * `after` (the replayed messages), all before every message still pending; each pending message of the
   * stream is newer than the replay, so the stream stays in order.
   */
  splice(
    classify: (message: EncodedMessage) => Placement,
    before: readonly EncodedMessage[],
    after: readonly EncodedMessage[],
  ): void {
    // The waiting reset frames of drops may leave or move: a later drop opens its own run.
    this.#gaps = undefined;
    const kept: EncodedMessage[] = [];
    const pulled: EncodedMessage[] = [];
    for (let message = this.#shiftPending(); message !== undefined; message = this.#shiftPending()) {
      const placement = classify(message);
      if (placement === KEEP) kept.push(message);
      else if (placement === PULL) pulled.push(message);
      else {
        this.pendingBytes -= message.size;
        this.#cache.pendingCount--;
      }
    }
    for (const list of [before, after]) {
      for (const message of list) {
        message.kept();
        this.pendingBytes += message.size;
        this.#cache.pendingCount++;
      }
    }
    if (before.length + pulled.length + after.length + kept.length === 0) return;
    const pending = (this.#pending ??= new Deque());
    for (const message of before) pending.push(message);
    for (const message of pulled) pending.push(message);
    for (const message of after) pending.push(message);
    for (const message of kept) pending.push(message);
  }

  /** Drops messages older than the TTL (control frames stay: they are signals, not data). */
  expire(now: number): void {
    const ttl = this.#cache.limits.messageTtlMs;
    for (;;) {
      const oldest = this.#oldestData();
      if (oldest === undefined || now - oldest.createdAt <= ttl) break;
      this.dropOldest();
    }
    const unconfirmed = this.#unconfirmed;
    if (unconfirmed === undefined) return;
    while (unconfirmed.length > 0 && now - unconfirmed.peek()!.createdAt > ttl) {
      this.#lose(unconfirmed.shift());
      this.#cache.unconfirmedCount--;
    }
    if (unconfirmed.length === 0) this.#unconfirmed = undefined;
  }

  /** The oldest pending message that is not a control frame. */
  #oldestData(): EncodedMessage | undefined {
    const pending = this.pending;
    for (let i = 0; i < pending.length; i++) {
      const message = pending.at(i)!;
      if (!message.control) return message;
    }
    return undefined;
  }

  /** Empties both queues. */
  clear(): void {
    this.#gaps = undefined;
    this.#cache.pendingCount -= this.pending.length;
    this.#cache.unconfirmedCount -= this.unconfirmed.length;
    this.#pending = undefined;
    this.#addBytes(-this.pendingBytes);
    this.replayAllowance = 0;
    this.replayCount = 0;
    this.#unconfirmed = undefined;
  }
}

/**
 * The missed-message cache: one {@link ClientQueue} per tracking id, kept by the runtime (what each client
 * was written, has confirmed, is still owed), with the limits of PROTOCOL.md §6. What survives a process
 * is the stream log's business (`stream-log` SPI); these queues are the exact, in-process part.
 */
export class ClientQueues {
  readonly limits: Readonly<CacheLimits>;
  pendingCount = 0;
  unconfirmedCount = 0;
  /** Bytes pending for clients away after a lost or cut connection (the server-wide away cap counts them). */
  awayBytes = 0;
  /** A `ChurnMap`: a queue per connection comes and goes with it (see `ChurnMap`). */
  readonly #queues = new ChurnMap<ClientQueue>();

  constructor(limits: Partial<CacheLimits> = {}) {
    this.limits = Object.freeze({ ...DEFAULT_CACHE_LIMITS, ...limits });
  }

  queue(trackingId: string): ClientQueue {
    let queue = this.#queues.get(trackingId);
    if (!queue) {
      queue = new ClientQueue(trackingId, this);
      this.#queues.set(trackingId, queue);
    }
    return queue;
  }

  find(trackingId: string): ClientQueue | undefined {
    return this.#queues.get(trackingId);
  }

  forget(trackingId: string): void {
    const queue = this.#queues.get(trackingId);
    if (!queue) return;
    queue.clear();
    this.#queues.delete(trackingId);
  }

  sweep(now: number): void {
    for (const queue of this.#queues.values()) {
      if (queue.pending.length > 0 || queue.unconfirmed.length > 0) queue.expire(now);
    }
    if (this.pendingCount <= this.limits.maxTotal) return;
    // Over the total: the oldest messages go first, across clients.
    dropOldestAcross(
      this.#queues.values(),
      (queue) => queue.pending.peek()!.createdAt,
      (queue) => queue.pending.length,
      (queue) => queue.shed(),
      () => this.pendingCount > this.limits.maxTotal,
    );
  }

  stats(): CacheStats {
    return { clients: this.#queues.size, pending: this.pendingCount, unconfirmed: this.unconfirmedCount };
  }

  async close(): Promise<void> {
    for (const queue of this.#queues.values()) queue.clear();
    this.#queues.clear();
  }
}
