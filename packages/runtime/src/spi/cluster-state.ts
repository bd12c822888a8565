/**
 * The cluster-state SPI (provider kind `cluster-state`): what the nodes of a cluster share about who is where.
 * Each node holds entries (a member of a scope — a room — with its JSON data) under a lease that it renews;
 * the lease is fenced by the node's epoch, a number the store hands out once per start, so a node that was
 * presumed dead (its lease expired, its entries released) cannot write with its old epoch any more. Every
 * change is published to every node with the node that caused it (`by`). `claim(key)` gives a piece of work
 * to exactly one node of the cluster. The memory implementation is the runtime's default (one node, nothing
 * shared); `redisClusterState()` of `@atmosphere/redis` shares it through Redis. Both run the contract suite
 * `@atmosphere/runtime/testing/cluster-state-contract`.
 */

/** Why an entry was released. */
export type ClusterReleaseReason =
  /** Its node released it (`release`, `close`). */
  | 'released'
  /** Its node's lease expired (the node died, hung or was cut from the store) and another node swept it. */
  | 'expired'
  /** Its node started again under the same id: the entries of its previous run were dropped. */
  | 'restarted';

/** One node's hold on a member of a scope. */
export interface ClusterEntry {
  readonly scope: string;
  readonly member: string;
  /** The node that holds it. */
  readonly node: string;
  /** The JSON the node gave with `hold` (a room member's metadata). */
  readonly data: unknown;
}

/** A change of a scope, as every node receives it. */
export type ClusterChange =
  | (ClusterEntry & {
      readonly action: 'hold';
      /** The node that made the change (the holder). */
      readonly by: string;
      /** The scope's change number: grows by one per change of the scope, never reused. */
      readonly seq: number;
    })
  | {
      readonly action: 'release';
      readonly scope: string;
      readonly member: string;
      /** The node whose entry was released. */
      readonly node: string;
      /** The node that made the change: the holder itself, or the node that swept an expired lease. */
      readonly by: string;
      readonly reason: ClusterReleaseReason;
      readonly seq: number;
    }
  | {
      /** A signal: data for every node about a scope (a room message for their virtual members), not kept. */
      readonly action: 'signal';
      readonly scope: string;
      readonly by: string;
      readonly data: unknown;
    };

/** A change that the store keeps (a `hold` or a `release`), with its `seq`. */
export type ClusterEntryChange = Extract<ClusterChange, { seq: number }>;

/** A scope's entries, with the number of the last change they include. */
export interface ClusterSnapshot {
  readonly seq: number;
  readonly entries: readonly ClusterEntry[];
}

/** Listens to every change of every scope, in the order the store made them. Must not throw. */
export type ClusterChangeListener = (change: ClusterChange) => void;

/**
 * A store of per-node leases and entries. Contract (checked by the contract suite against the real store):
 * - `start()` takes the node's lease with a new epoch (greater than every epoch handed out before); entries a
 *   previous run of the same node id left are released (reason `restarted`) before it resolves;
 * - `hold(scope, member, data)` records the node's entry (idempotent: holding again replaces the data) and
 *   publishes `hold`; `release` removes it and publishes `release` (nothing when it was not held);
 * - `snapshot(scope)` returns every node's entries of the scope and the `seq` of the last change they include:
 *   a change with a `seq` at or below it is already in the snapshot;
 * - changes reach every node's listeners once, in `seq` order per scope (a node hears its own changes too);
 * - a node that stops renewing (killed) has its entries released, reason `expired`, within `leaseMs` plus one
 *   sweep interval (at most `leaseMs / 2`);
 * - a node whose lease expired while it still ran (a hang) is fenced: its next write fails or it re-registers
 *   under a new epoch and holds its entries again; it never writes under the old epoch;
 * - `signal(scope, data)` reaches every node's listeners (this node's too) once, in order with the changes
 *   the same node made; it is not kept;
 * - `claim(key, ttlMs)` is true for exactly one caller of the cluster per key until `ttlMs` passes;
 * - `close()` releases the node's entries (reason `released`) and its lease; after it every call fails with
 *   an `AtmosphereError` of code `CLOSED`.
 */
export interface ClusterState {
  readonly name: string;
  /** True when several nodes share the state (Redis); false for the default memory state of one node. */
  readonly shared: boolean;
  /** This node's id (random per process unless the application set one). */
  readonly nodeId: string;
  /** The epoch of this node's lease: 0 before `start()`, then the fencing token of this run. */
  readonly epoch: number;
  /** How long a lease lasts without renewal, in ms. */
  readonly leaseMs: number;
  start(): Promise<void>;
  hold(scope: string, member: string, data: unknown): Promise<void>;
  release(scope: string, member: string): Promise<void>;
  snapshot(scope: string): Promise<ClusterSnapshot>;
  /**
   * This node no longer follows `scope` (its view closed, or it only read it once): a store that keeps what a
   * node loaded, to catch up after its change subscription was cut, lets go of it. Optional; a no-op without.
   */
  forget?(scope: string): void;
  /** Adds a listener of every change; returns the function that removes it. */
  onChange(listener: ClusterChangeListener): () => void;
  /** Sends `data` (JSON) to every node's listeners as a `signal` change; nothing is kept. */
  signal(scope: string, data: unknown): Promise<void>;
  /** True for exactly one caller of the cluster per key, until `ttlMs` passes. */
  claim(key: string, ttlMs: number): Promise<boolean>;
  /** Releases this node's entries and lease, stops renewing. Idempotent. */
  close(): Promise<void>;
}

/** The default lease: a killed node's entries are released within 10 s plus one sweep (≤ 15 s). */
export const DEFAULT_CLUSTER_LEASE_MS = 10_000;
