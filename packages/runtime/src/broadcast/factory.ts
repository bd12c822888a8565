import { EncodedMessage } from '../delivery/encoded-message.ts';
import type { ClientResource } from '../delivery/resource.ts';
import type { BackplaneMessage, BroadcasterBackplane } from '../spi/backplane.ts';
import type { Logger } from '../spi/logger.ts';
import {
  BATCH_ENTRIES,
  BATCH_PAYLOAD,
  type LogEntry,
  payloadSize,
  type StreamLog,
  type StreamPosition,
} from '../spi/stream-log.ts';
import { NO_TELEMETRY, type RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import { Broadcaster, type BroadcasterHost, type BroadcasterOptions } from './broadcaster.ts';
import { StreamSequencer } from './stream-sequencer.ts';
import { after } from '../util/after.ts';

/** Relays of one broadcaster arriving in one job, appended together. */
interface RemoteBatch {
  readonly entries: LogEntry[];
  readonly messages: BackplaneMessage[];
  payload: number;
}

/**
 * Creates, finds and destroys broadcasters by id. One per Atmosphere instance (`atmosphere.broadcasters`).
 */
export class BroadcasterFactory {
  readonly #broadcasters = new Map<string, Broadcaster>();
  readonly #host: BroadcasterHost;
  readonly #resource: (id: string) => ClientResource | undefined;
  readonly #telemetry: RuntimeTelemetry;
  /** With a log shared by several nodes: keeps each stream's delivery on this node in log order. */
  readonly #sequencer: StreamSequencer | undefined;

  constructor(
    logger: Logger,
    backplane: BroadcasterBackplane,
    log: StreamLog,
    resource: (id: string) => ClientResource | undefined,
    telemetry: RuntimeTelemetry = NO_TELEMETRY,
  ) {
    this.#resource = resource;
    this.#telemetry = telemetry;
    this.#sequencer = log.shared
      ? new StreamSequencer(log, logger, {
          deliver: (stream, message, targets, exclude) =>
            this.#deliverPositioned(stream, message, targets, exclude),
          reset: (stream, reset, reason) => {
            if (telemetry.metricsOn) telemetry.streamReset(reason);
            this.#broadcasters.get(stream)?.deliverLocal(reset, undefined, undefined);
          },
        })
      : undefined;
    this.#host = {
      sequencer: this.#sequencer,
      heldBack: (message) => this.#heldBack.add(message),
      telemetry,
      logger,
      backplane,
      log,
      resource,
      broadcasterEmpty: (broadcaster) => {
        if (broadcaster.size === 0 && this.#broadcasters.get(broadcaster.id) === broadcaster)
          this.destroy(broadcaster.id);
      },
    };
  }

  /** The broadcaster with this id, created (with `options`) when absent. */
  get(id: string, options?: BroadcasterOptions): Broadcaster {
    let broadcaster = this.#broadcasters.get(id);
    if (!broadcaster) {
      broadcaster = new Broadcaster(id, this.#host, options);
      this.#broadcasters.set(id, broadcaster);
      this.#sequencer?.open(id);
    }
    return broadcaster;
  }

  /** The broadcaster with this id, if it exists. */
  find(id: string): Broadcaster | undefined {
    return this.#broadcasters.get(id);
  }

  /** How many broadcasters exist on this node. */
  get size(): number {
    return this.#broadcasters.size;
  }

  all(): Broadcaster[] {
    return [...this.#broadcasters.values()];
  }

  /** Destroys a broadcaster: unsubscribes its resources (they stay open) and forgets it. */
  destroy(id: string): boolean {
    const broadcaster = this.#broadcasters.get(id);
    if (!broadcaster) return false;
    this.#broadcasters.delete(id);
    broadcaster.destroy();
    this.#sequencer?.forget(id);
    return true;
  }

  /**
   * @internal The backplane's subscription is active again after it was lost: messages relayed meanwhile
   * were missed, so each stream this node delivers is read on from the shared log (a reset frame where the
   * log cannot serve it). Resolves once done; nothing to do without a shared log.
   */
  reconcile(): Promise<void> {
    return this.#sequencer?.reconcile() ?? Promise.resolve();
  }

  /** @internal How the sequencer of a shared log fared (undefined without one). */
  sequencerStats(): ReturnType<StreamSequencer['stats']> | undefined {
    return this.#sequencer?.stats();
  }

  /**
   * @internal A message from another node: deliver it to this node's recipients. With a shared log it
   * carries its position; with a log of this node's own, it is appended here first, so that what this node's
   * clients were sent is what its log holds.
   */
  deliverRemote(message: BackplaneMessage): void {
    const log = this.#host.log;
    if (message.position !== undefined || log.shared) {
      this.#deliverRemote(message, message.position);
      return;
    }
    const entry: LogEntry =
      message.targets !== undefined
        ? { payload: message.payload, targets: message.targets }
        : message.exclude !== undefined
          ? { payload: message.payload, exclude: message.exclude }
          : { payload: message.payload };
    if (log.batchAppends !== true) {
      this.#logRemote(message.broadcaster, [entry], [message]);
      return;
    }
    // A store that takes a turn's appends together: the relays of one broadcaster that arrive in one job
    // (one read of the backplane's socket) are appended in one call, as the broadcaster does its own.
    let batch = this.#remoteBatches.get(message.broadcaster);
    if (batch === undefined) {
      if (this.#remoteBatches.size === 0) queueMicrotask(this.#flushRemote);
      batch = { entries: [], messages: [], payload: 0 };
      this.#remoteBatches.set(message.broadcaster, batch);
    }
    batch.entries.push(entry);
    batch.messages.push(message);
    batch.payload += payloadSize(entry.payload);
    if (batch.entries.length >= BATCH_ENTRIES || batch.payload >= BATCH_PAYLOAD) {
      this.#remoteBatches.delete(message.broadcaster);
      this.#logRemote(message.broadcaster, batch.entries, batch.messages);
    }
  }

  /** Relays of this job waiting for their append, by broadcaster (stores with `batchAppends`). */
  readonly #remoteBatches = new Map<string, RemoteBatch>();

  readonly #flushRemote = (): void => {
    if (this.#remoteBatches.size === 0) return;
    const batches = [...this.#remoteBatches];
    this.#remoteBatches.clear();
    for (const [broadcaster, batch] of batches) this.#logRemote(broadcaster, batch.entries, batch.messages);
  };

  /**
   * Appends relayed messages of one broadcaster to this node's log in one call, then delivers each at its
   * position (the first's seq + its index), after the relays appended before them.
   */
  #logRemote(broadcaster: string, entries: LogEntry[], messages: BackplaneMessage[]): void {
    const failed = (error: unknown): void =>
      this.#host.logger.error(
        `${messages.length === 1 ? 'a message' : `${messages.length} messages`} relayed for ${broadcaster} could not be logged; not delivered`,
        { error },
      );
    let position: StreamPosition | Promise<StreamPosition>;
    try {
      position = this.#host.log.append(broadcaster, entries);
    } catch (error) {
      failed(error);
      return;
    }
    const deliver = (first: StreamPosition): void => {
      for (let i = 0; i < messages.length; i++) {
        try {
          this.#deliverRemote(messages[i]!, i === 0 ? first : { epoch: first.epoch, seq: first.seq + i });
        } catch (error) {
          // One failed delivery neither takes the rest of its batch nor the relays after it with it.
          this.#host.logger.error(`a message relayed for ${broadcaster} could not be delivered`, { error });
        }
      }
    };
    if (!(position instanceof Promise)) {
      deliver(position);
      return;
    }
    // Remote messages of one broadcaster keep their order: each append's delivery waits for the one before.
    const previous = this.#remoteTail.get(broadcaster) ?? Promise.resolve();
    const next = after(previous, position).then(deliver, failed);
    this.#remoteTail.set(broadcaster, next);
    void next.then(() => {
      if (this.#remoteTail.get(broadcaster) === next) this.#remoteTail.delete(broadcaster);
    });
  }

  readonly #remoteTail = new Map<string, Promise<void>>();
  /** Messages of this node's own the sequencer held back: not announced as relayed when it delivers them. */
  readonly #heldBack = new WeakSet<EncodedMessage>();

  #deliverRemote(message: BackplaneMessage, position: StreamPosition | undefined): void {
    const telemetry = this.#telemetry;
    if (!telemetry.tracingOn) {
      const delivered = this.#deliverRemoteNow(message, position);
      if (telemetry.metricsOn) {
        telemetry.relayedIn.add();
        telemetry.delivered.add(delivered);
      }
      return;
    }
    // The relay's span continues the trace of the broadcast on the node that published it.
    const span = telemetry.tracing.startSpan(
      'atmosphere.backplane.relay',
      this.#broadcasters.get(message.broadcaster)?.relaySpanAttributes ?? {
        'atmosphere.broadcaster': message.broadcaster,
        'atmosphere.action': 'relay',
      },
      message.trace,
    );
    try {
      const delivered = this.#deliverRemoteNow(message, position);
      span.setAttribute('atmosphere.fanout', delivered);
      if (telemetry.metricsOn) {
        telemetry.relayedIn.add();
        telemetry.delivered.add(delivered);
      }
    } finally {
      span.end();
    }
  }

  /** Delivers a relayed message to this node's recipients; returns how many. */
  #deliverRemoteNow(message: BackplaneMessage, position: StreamPosition | undefined): number {
    const outbound = new EncodedMessage(message.payload, message.broadcaster);
    outbound.position = position;
    const sequencer = this.#sequencer;
    if (
      sequencer !== undefined &&
      position !== undefined &&
      this.#broadcasters.has(message.broadcaster) &&
      !sequencer.admit(message.broadcaster, outbound, message.targets, message.exclude)
    )
      return 0;
    return this.#deliverPositioned(message.broadcaster, outbound, message.targets, message.exclude);
  }

  /** Delivers a message of `stream` to this node's recipients; returns how many. */
  #deliverPositioned(
    stream: string,
    outbound: EncodedMessage,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): number {
    const broadcaster = this.#broadcasters.get(stream);
    if (broadcaster) {
      const relayed = broadcaster.options.relayed;
      if (relayed !== undefined && !this.#heldBack.has(outbound))
        this.#tellRelayed(broadcaster, relayed, outbound.payload, targets);
      return broadcaster.deliverLocal(outbound, targets, exclude);
    }
    // No local channel: only addressed messages can still have a recipient here.
    let delivered = 0;
    if (targets)
      for (const id of targets) {
        const resource = this.#resource(id);
        if (resource !== undefined) {
          resource.deliver(outbound);
          delivered++;
        }
      }
    return delivered;
  }

  /** Calls a broadcaster's `relayed` listener; a throw is logged, and the message is delivered all the same. */
  #tellRelayed(
    broadcaster: Broadcaster,
    relayed: NonNullable<BroadcasterOptions['relayed']>,
    payload: string | Uint8Array,
    targets: readonly string[] | undefined,
  ): void {
    try {
      relayed(payload, targets);
    } catch (error) {
      this.#host.logger.error(`broadcaster ${broadcaster.id}: its relayed listener threw`, { error });
    }
  }

  destroyAll(): void {
    for (const id of [...this.#broadcasters.keys()]) this.destroy(id);
  }
}
