import type { StreamPosition } from '@atmosphere/protocol';
import type { TraceCarrier } from './tracing.ts';

/** A message relayed between nodes: already filtered, with its recipients when it is addressed. */
export interface BackplaneMessage {
  /** The broadcaster id (channel). */
  broadcaster: string;
  payload: string | Uint8Array;
  /** Tracking ids it is addressed to; absent = every subscriber. */
  targets?: readonly string[];
  /** Tracking id left out (the sender). */
  exclude?: string;
  /**
   * The message's position in the broadcaster's stream, when a shared log assigned one: a node that sees a
   * jump fills the gap from the log before delivering anything newer. Backplanes carry it unchanged.
   */
  position?: StreamPosition;
  /**
   * The trace context of the broadcast that published it, when tracing is on and the span is recorded: the
   * receiving node's delivery span joins the same trace. Backplanes that can carry it do; it is optional.
   */
  trace?: TraceCarrier;
}

/** Why a broadcast of this node did not reach the other nodes. */
export type RelayFailureReason =
  /** The shared bus was unreachable and the local buffer was full (or the backplane keeps none). */
  | 'offline'
  /** Larger than the backplane's largest message. */
  | 'too-large'
  /** Too many bytes were waiting for the bus already. */
  | 'backlog'
  /** The bus refused it, or the connection broke while it was on its way (it may or may not have arrived). */
  | 'failed';

/**
 * A broadcast (or a batch of them) that the backplane could not relay: it reached this node's clients only.
 * Reported through {@link BackplaneEvents.relayFailed}, never dropped quietly.
 */
export interface RelayFailure {
  /** The backplane's name (`redis`, `kafka`). */
  readonly backplane: string;
  /** The broadcaster of the (first) message concerned. */
  readonly broadcaster: string;
  readonly reason: RelayFailureReason;
  /** How many broadcasts this report covers (a failed batch is reported once). */
  readonly count: number;
  /** A sentence for logs. */
  readonly detail: string;
}

/** What a backplane reports to the runtime besides remote messages. */
export interface BackplaneEvents {
  /** A broadcast of this node was not relayed (the runtime hands it to `atmosphere.onRelayFailure` listeners). */
  relayFailed(failure: RelayFailure): void;
  /**
   * The subscription to the other nodes' messages is active again after it was lost: what they relayed
   * meanwhile was missed. With a shared stream log the runtime then reads each stream on from where this node
   * stands (DURABILITY.md §4). Backplanes that can tell call it; it is optional.
   */
  resubscribed?(): void;
}

/**
 * Relays broadcasts between nodes of a cluster (provider kind `broadcaster-backplane`). The runtime calls
 * `start` once with the function that delivers a remote message locally, then `publish` for every
 * broadcast made on this node. A backplane never hands a node its own messages back. A broadcast it cannot
 * relay is reported through `events.relayFailed` (and counted), never dropped quietly. Contract suite:
 * `@atmosphere/runtime/testing/backplane-contract`.
 */
export interface BroadcasterBackplane {
  readonly name: string;
  start(deliver: (message: BackplaneMessage) => void, events?: BackplaneEvents): void | Promise<void>;
  publish(message: BackplaneMessage): void;
  close(): Promise<void>;
}
