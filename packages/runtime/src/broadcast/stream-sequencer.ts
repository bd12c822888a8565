import { resetFrame, type StreamPosition, type StreamReset } from '@atmosphere/protocol';
import { EncodedMessage } from '../delivery/encoded-message.ts';
import type { Logger } from '../spi/logger.ts';
import type { LogRead, StreamLog, StreamState } from '../spi/stream-log.ts';
import type { StreamResetReason } from '../telemetry/runtime-telemetry.ts';

/** Where the sequencer's messages go: this node's recipients of a stream, and the reset frame for them. */
export interface SequencedOutput {
  /** Delivers a positioned message to this node's recipients of `stream`; returns how many. */
  deliver(
    stream: string,
    message: EncodedMessage,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): number;
  /** Sends the reset frame to this node's subscribers of `stream` (those that asked for positions see it). */
  reset(stream: string, reset: EncodedMessage, reason: StreamResetReason): void;
}

/** A message that waits while the sequencer fills the gap before it. */
interface Waiting {
  readonly message: EncodedMessage;
  readonly targets: readonly string[] | undefined;
  readonly exclude: string | undefined;
}

/** What this node delivered last of a stream, and what waits behind a fill. */
interface Track {
  /** {@link UNKNOWN} until the stream's first position is known (the log did not hold the stream yet). */
  epoch: string;
  seq: number;
  /** Take the next message's position as the start (the log could not say where the stream stood). */
  adopt: boolean;
  /**
   * Set from the log's answer to the first message this node sees of the stream: a relay that reaches this
   * node after the answer, of a message the log placed before it, was on its way while the stream opened and
   * is delivered (with what follows it), not taken for one delivered already.
   */
  fresh: boolean;
  /** Set while the gap before the first of these is read from the log. */
  waiting: Waiting[] | undefined;
}

/** Counts since the sequencer started (for logs, metrics and tests). */
export interface SequencerStats {
  /** Messages read from the log to fill a jump (or a reconcile) and delivered. */
  readonly filled: number;
  /** Reset frames sent because the log could not serve a gap. */
  readonly resets: number;
  /** Messages not delivered because this node had delivered their position already. */
  readonly duplicates: number;
  /** Messages of an epoch the log no longer has, left out after their stream's reset. */
  readonly stale: number;
}

/** The epoch of a track whose stream the log did not hold yet: the first position's epoch is taken. */
const UNKNOWN = '';

/** Pages of the log one fill reads at most (each as large as the store's own read limit). */
const MAX_PAGES = 16;
/** Pauses between attempts to read the log for a fill when a read fails (about 5 s in all), then a reset. */
const READ_RETRY_MS = [50, 100, 200, 400, 800, 1_000, 1_000, 1_000] as const;

function isPromise<T>(value: unknown): value is Promise<T> {
  return typeof (value as { then?: unknown } | null)?.then === 'function';
}

/**
 * Keeps the delivery of each stream of this node in log order when the stream log is shared by several nodes
 * (DURABILITY.md §4). Every positioned message this node delivers — its own broadcasts once placed, and those
 * relayed by the backplane — passes `admit`: the next position is delivered at once; a position this node
 * delivered already is left out; a jump (a relayed message lost with a backplane outage, or one still on its
 * way while a newer one arrived) is filled from the log, in order, before the message that revealed it and
 * anything after it. What the log cannot serve (trimmed, another epoch, the log away) becomes a reset frame
 * for the stream's subscribers, sent before any newer message. `reconcile` reads every stream on from where
 * this node stands (after the backplane's subscription came back).
 *
 * The fast path is a map lookup and two comparisons; a fill is rare and reads the log once per page.
 */
export class StreamSequencer {
  readonly #tracks = new Map<string, Track>();
  readonly #log: StreamLog;
  readonly #logger: Logger;
  readonly #output: SequencedOutput;
  #filled = 0;
  #resets = 0;
  #duplicates = 0;
  #stale = 0;
  /** Fills in progress (tests and `settled` wait for them). */
  readonly #fills = new Set<Promise<void>>();

  constructor(log: StreamLog, logger: Logger, output: SequencedOutput) {
    this.#log = log;
    this.#logger = logger;
    this.#output = output;
  }

  stats(): SequencerStats {
    return {
      filled: this.#filled,
      resets: this.#resets,
      duplicates: this.#duplicates,
      stale: this.#stale,
    };
  }

  /**
   * A positioned message about to be delivered on this node. True: deliver it now (it is the next of its
   * stream, or the first this node sees). False: the sequencer took it — it was delivered already (left out),
   * or it waits behind a fill and the sequencer delivers it through its output once the gap before it is.
   */
  admit(
    stream: string,
    message: EncodedMessage,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): boolean {
    const position = message.position!;
    const track = this.#tracks.get(stream);
    if (track === undefined) {
      this.#tracks.set(stream, {
        epoch: position.epoch,
        seq: position.seq,
        adopt: false,
        fresh: false,
        waiting: undefined,
      });
      return true;
    }
    if (track.waiting !== undefined) {
      track.waiting.push({ message, targets, exclude });
      return false;
    }
    if (track.adopt) {
      track.adopt = false;
      track.epoch = position.epoch;
      track.seq = position.seq;
      return true;
    }
    if (track.epoch === UNKNOWN) track.epoch = position.epoch;
    if (track.fresh) {
      track.fresh = false;
      // The first message since the log answered, placed before the answer: it was on its way when the
      // stream opened here, so delivery starts with it.
      if (position.epoch === track.epoch && position.seq <= track.seq) track.seq = position.seq - 1;
    }
    if (position.epoch === track.epoch) {
      if (position.seq === track.seq + 1) {
        track.seq = position.seq;
        return true;
      }
      if (position.seq <= track.seq) {
        this.#duplicates++;
        return false;
      }
    }
    track.waiting = [{ message, targets, exclude }];
    this.#start(stream, track, position);
    return false;
  }

  /**
   * A stream gets a broadcaster on this node: where the log stands now is where this node's delivery of it
   * starts (every later position is delivered, a jump after it filled), so that a message of another node
   * still on its way when this node's own newer one is placed is not taken for one delivered already. Until
   * the log answers, messages of the stream wait; when it cannot, the first message's position is the start.
   */
  open(stream: string): void {
    if (this.#tracks.has(stream)) return;
    const track: Track = { epoch: UNKNOWN, seq: 0, adopt: false, fresh: false, waiting: [] };
    this.#tracks.set(stream, track);
    const failed = (error: unknown): void => {
      this.#logger.warn(
        `stream ${stream}: the stream log ${this.#log.name} could not say where the stream stands; this node ` +
          `delivers it from the next message on: ${(error as Error)?.message ?? String(error)}`,
      );
      track.adopt = true;
      this.#drain(stream, track);
    };
    const started = (state: StreamState | undefined): void => {
      if (state !== undefined) {
        track.epoch = state.epoch;
        track.seq = state.last;
        // A message that arrived while the log answered was under way when the stream opened here: it is
        // delivered (as a broadcast in flight reaches a new subscriber on one node), not taken for history.
        for (const { message } of track.waiting ?? [])
          if (message.position!.epoch === state.epoch && message.position!.seq <= track.seq)
            track.seq = message.position!.seq - 1;
        // Likewise the first to arrive after the answer, when none arrived before it: the log may have
        // placed it before answering while its relay was still on the way here.
        track.fresh = track.waiting === undefined || track.waiting.length === 0;
      }
      this.#drain(stream, track);
    };
    let state: StreamState | undefined | Promise<StreamState | undefined>;
    try {
      state = this.#log.state(stream);
    } catch (error) {
      failed(error);
      return;
    }
    if (!isPromise<StreamState | undefined>(state)) {
      started(state);
      return;
    }
    const opening = state.then(started, failed);
    this.#fills.add(opening);
    void opening.finally(() => this.#fills.delete(opening));
  }

  /** Reads every stream this node tracks on from where it stands (the backplane missed messages). */
  reconcile(): Promise<void> {
    for (const [stream, track] of this.#tracks) {
      if (track.waiting !== undefined || track.adopt) continue;
      track.waiting = [];
      this.#start(stream, track, undefined);
    }
    return this.settled();
  }

  /** Resolves once no fill is in progress. */
  async settled(): Promise<void> {
    while (this.#fills.size > 0) await Promise.all([...this.#fills]);
  }

  /** The stream has no subscriber on this node any more: nothing to keep for it. */
  forget(stream: string): void {
    const track = this.#tracks.get(stream);
    if (track !== undefined && track.waiting === undefined) this.#tracks.delete(stream);
  }

  #start(stream: string, track: Track, upTo: StreamPosition | undefined): void {
    // What the fill delivers is newer than anything still on its way from before the stream opened here.
    track.fresh = false;
    const fill = this.#fill(stream, track, upTo).then(
      () => this.#drain(stream, track),
      (error: unknown) => {
        this.#logger.error(`stream ${stream}: filling a gap from the stream log failed`, { error });
        this.#drain(stream, track);
      },
    );
    this.#fills.add(fill);
    void fill.finally(() => this.#fills.delete(fill));
  }

  /**
   * Delivers from the log what this node missed of `stream` after its track, up to the message before `upTo`
   * (or to the stream's last when reconciling); a reset frame stands for what the log cannot serve.
   */
  async #fill(stream: string, track: Track, upTo: StreamPosition | undefined): Promise<void> {
    for (let page = 0; ; page++) {
      let read: LogRead | undefined;
      for (let attempt = 0; ; attempt++) {
        try {
          const reading = this.#log.read(stream, track.seq);
          read = isPromise<LogRead | undefined>(reading) ? await reading : reading;
          break;
        } catch (error) {
          // The log's connection may be coming back with the backplane's (a partition healing, a restart):
          // try again for a few seconds while newer messages wait, then reset.
          const pause = READ_RETRY_MS[attempt];
          if (pause !== undefined) {
            await new Promise((resolve) => setTimeout(resolve, pause).unref());
            continue;
          }
          this.#logger.warn(
            `stream ${stream}: the stream log ${this.#log.name} could not be read to fill a gap after ${track.seq} ` +
              `(${READ_RETRY_MS.length + 1} attempts); its subscribers get a reset: ${(error as Error)?.message ?? String(error)}`,
          );
          this.#lost(stream, track, upTo, 'unknown');
          return;
        }
      }
      if (read === undefined) {
        this.#lost(stream, track, upTo, 'unknown');
        return;
      }
      if (track.epoch === UNKNOWN) {
        // The stream was new to the log when this node started tracking it: everything of it is to deliver.
        track.epoch = read.epoch;
        track.seq = 0;
      }
      if (read.epoch !== track.epoch) {
        const continued = read.continues;
        if (continued !== undefined && continued.epoch === track.epoch) {
          // The log came back from a failure that lost its newest records (Redis restarted from a snapshot) and
          // numbers on under a new epoch: its records up to `continued.seq` are this epoch's. A reset (positions
          // after it may have been handed out before), then the stream from there: nothing this node delivered
          // comes again.
          const kept = Math.min(track.seq, continued.seq);
          this.#reset(stream, track, { epoch: read.epoch, seq: kept + 1 }, 'epoch');
          track.epoch = read.epoch;
          track.seq = kept;
          continue;
        }
        // The stream's history was lost (a flushed key): what this node had is gone, the new epoch is read
        // from its start.
        // (The read was made after a seq of the old epoch: the new one is read again from its oldest record.)
        const first = read.first;
        this.#reset(stream, track, { epoch: read.epoch, seq: first }, 'epoch');
        track.epoch = read.epoch;
        track.seq = first - 1;
        continue;
      }
      const end = upTo !== undefined && upTo.epoch === read.epoch ? upTo.seq - 1 : read.last;
      if (track.seq >= end) return;
      const records = read.records;
      const next = records.length > 0 ? records[0]!.seq : read.last + 1;
      if (next > track.seq + 1) {
        const resumeAt = Math.min(next, end + 1);
        this.#reset(stream, track, { epoch: read.epoch, seq: resumeAt }, 'trimmed');
        track.seq = resumeAt - 1;
      }
      for (const record of records) {
        if (record.seq > end) return;
        if (record.seq <= track.seq) continue;
        const message = new EncodedMessage(record.payload, stream);
        message.position = { epoch: read.epoch, seq: record.seq };
        track.seq = record.seq;
        this.#filled++;
        this.#output.deliver(stream, message, record.targets, record.exclude);
      }
      if (track.seq >= end || records.length === 0) return;
      if (page + 1 >= MAX_PAGES) {
        this.#reset(stream, track, { epoch: read.epoch, seq: end + 1 }, 'truncated');
        track.seq = end;
        return;
      }
    }
  }

  /** The log cannot say what came after the track: a reset, then the stream goes on from `upTo`. */
  #lost(stream: string, track: Track, upTo: StreamPosition | undefined, reason: StreamResetReason): void {
    if (upTo === undefined) return;
    this.#reset(stream, track, upTo, reason);
    track.epoch = upTo.epoch;
    track.seq = upTo.seq - 1;
  }

  #reset(stream: string, track: Track, resumeAt: StreamPosition, reason: StreamResetReason): void {
    // A stream new to the log when this node began tracking it starts in the epoch it resumes in.
    const epoch = track.epoch === UNKNOWN ? resumeAt.epoch : track.epoch;
    const reset: StreamReset = { stream, from: { epoch, seq: track.seq + 1 }, resumeAt };
    this.#resets++;
    this.#logger.warn(
      `stream ${stream}: this node missed messages from ${epoch}/${track.seq + 1} that the stream log ` +
        `cannot serve (${reason}); its subscribers get a reset frame (resuming at ${resumeAt.epoch}/${resumeAt.seq})`,
    );
    this.#output.reset(stream, new EncodedMessage(resetFrame(reset), stream, undefined, true), reason);
  }

  /**
   * The fill is over: what waited is admitted again, in order (a later jump starts another fill). A message of
   * an epoch other than the one the fill left the track in belongs to a history the log no longer has (a reset
   * was sent for it); admitting it would read the log again for an epoch it does not hold, so it is left out.
   */
  #drain(stream: string, track: Track): void {
    const waiting = track.waiting ?? [];
    track.waiting = undefined;
    for (const entry of waiting) {
      // An entry admitted before may have started another fill: the rest waits behind it.
      const refill = track.waiting as Waiting[] | undefined;
      if (refill !== undefined) {
        refill.push(entry);
        continue;
      }
      const { message, targets, exclude } = entry;
      if (track.epoch !== UNKNOWN && !track.adopt && message.position!.epoch !== track.epoch) {
        this.#stale++;
        this.#logger.debug(
          `stream ${stream}: a message of epoch ${message.position!.epoch} was left out; the log is in ${track.epoch}`,
        );
        continue;
      }
      if (this.admit(stream, message, targets, exclude))
        this.#output.deliver(stream, message, targets, exclude);
    }
  }
}
