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

/**
 * Relays broadcasts between nodes of a cluster (provider kind `broadcaster-backplane`). The runtime calls
 * `start` once with the function that delivers a remote message locally, then `publish` for every
 * broadcast made on this node. A backplane never hands a node its own messages back. Contract suite:
 * `@atmosphere/runtime/testing/backplane-contract`.
 */
export interface BroadcasterBackplane {
  readonly name: string;
  start(deliver: (message: BackplaneMessage) => void): void | Promise<void>;
  publish(message: BackplaneMessage): void;
  close(): Promise<void>;
}
