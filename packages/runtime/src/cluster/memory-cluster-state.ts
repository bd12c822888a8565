import { randomUUID } from 'node:crypto';
import { AtmosphereError } from '../errors.ts';
import {
  type ClusterChange,
  type ClusterChangeListener,
  type ClusterEntry,
  type ClusterReleaseReason,
  type ClusterSnapshot,
  type ClusterState,
  DEFAULT_CLUSTER_LEASE_MS,
} from '../spi/cluster-state.ts';

/** Options of a {@link MemoryClusterState}. */
export interface MemoryClusterStateOptions {
  /**
   * The state shared with other instances of this process (tests, several Atmosphere instances in one
   * process). Default: a state of this instance alone (`shared` is false).
   */
  hub?: MemoryClusterHub;
  /** This node's id. Default: a random one. */
  nodeId?: string;
  /** How long a lease lasts without renewal, in ms. Default 10 000. */
  leaseMs?: number;
}

interface NodeLease {
  epoch: number;
  expiresAt: number;
}

/**
 * The state several {@link MemoryClusterState}s of one process share: entries by scope, leases, claims, and
 * the listeners every change goes to (each in a microtask of its own, in order, as a store's pub/sub would).
 */
export class MemoryClusterHub {
  readonly #scopes = new Map<string, { seq: number; entries: Map<string, ClusterEntry> }>();
  readonly #leases = new Map<string, NodeLease>();
  readonly #claims = new Map<string, number>();
  readonly #listeners = new Set<ClusterChangeListener>();
  #epoch = 0;

  /** @internal */
  register(node: string, leaseMs: number): number {
    if (this.#leases.has(node)) this.#releaseAll(node, node, 'restarted');
    const epoch = ++this.#epoch;
    this.#leases.set(node, { epoch, expiresAt: Date.now() + leaseMs });
    return epoch;
  }

  /** @internal False when the node's lease is gone or belongs to a newer epoch (fenced). */
  renew(node: string, epoch: number, leaseMs: number): boolean {
    const lease = this.#leases.get(node);
    if (lease?.epoch !== epoch) return false;
    lease.expiresAt = Date.now() + leaseMs;
    return true;
  }

  /** @internal Releases the entries of every node whose lease expired, as `by`. */
  sweep(by: string): void {
    const now = Date.now();
    for (const [node, lease] of [...this.#leases]) {
      if (lease.expiresAt > now) continue;
      this.#leases.delete(node);
      this.#releaseAll(node, by, 'expired');
    }
  }

  /** @internal */
  unregister(node: string, epoch: number): void {
    if (this.#leases.get(node)?.epoch !== epoch) return;
    this.#releaseAll(node, node, 'released');
    this.#leases.delete(node);
  }

  /** @internal */
  fenced(node: string, epoch: number): boolean {
    return this.#leases.get(node)?.epoch !== epoch;
  }

  /** @internal */
  hold(scope: string, member: string, node: string, data: unknown): void {
    const state = this.#scope(scope);
    state.entries.set(entryKey(member, node), { scope, member, node, data });
    this.#publish({ action: 'hold', scope, member, node, data, by: node, seq: ++state.seq });
  }

  /** @internal */
  release(scope: string, member: string, node: string, by: string, reason: ClusterReleaseReason): void {
    const state = this.#scopes.get(scope);
    if (state === undefined || !state.entries.delete(entryKey(member, node))) return;
    this.#publish({ action: 'release', scope, member, node, by, reason, seq: ++state.seq });
    if (state.entries.size === 0) this.#scopes.delete(scope);
  }

  /** @internal */
  signal(scope: string, by: string, data: unknown): void {
    this.#publish({ action: 'signal', scope, by, data });
  }

  /** @internal */
  snapshot(scope: string): ClusterSnapshot {
    const state = this.#scopes.get(scope);
    if (state === undefined) return { seq: this.#retired.get(scope) ?? 0, entries: [] };
    return { seq: state.seq, entries: [...state.entries.values()] };
  }

  /** @internal */
  claim(key: string, ttlMs: number): boolean {
    const now = Date.now();
    const until = this.#claims.get(key);
    if (until !== undefined && until > now) return false;
    this.#claims.set(key, now + ttlMs);
    if (this.#claims.size > 1_000) for (const [k, t] of this.#claims) if (t <= now) this.#claims.delete(k);
    return true;
  }

  /** @internal */
  listen(listener: ClusterChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Sequence numbers of scopes that emptied, so that a scope's `seq` never goes back. */
  readonly #retired = new Map<string, number>();

  #scope(scope: string): { seq: number; entries: Map<string, ClusterEntry> } {
    let state = this.#scopes.get(scope);
    if (state === undefined) {
      state = { seq: this.#retired.get(scope) ?? 0, entries: new Map() };
      this.#retired.delete(scope);
      this.#scopes.set(scope, state);
    }
    return state;
  }

  #releaseAll(node: string, by: string, reason: ClusterReleaseReason): void {
    for (const [scope, state] of [...this.#scopes]) {
      for (const entry of [...state.entries.values()])
        if (entry.node === node) this.release(scope, entry.member, node, by, reason);
      if (!this.#scopes.has(scope)) this.#retired.set(scope, state.seq);
    }
  }

  #publish(change: ClusterChange): void {
    const listeners = [...this.#listeners];
    queueMicrotask(() => {
      for (const listener of listeners) listener(change);
    });
  }
}

/**
 * The runtime's default `cluster-state`: leases, entries and claims in this process. Alone (no `hub`) it is
 * one node's state and `shared` is false, so rooms behave as on a single node; given a hub, several instances
 * of one process form a cluster (what the contract suite checks).
 */
export class MemoryClusterState implements ClusterState {
  readonly name = 'memory';
  readonly shared: boolean;
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly #hub: MemoryClusterHub;
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  readonly #held = new Map<string, { scope: string; member: string; data: unknown }>();

  constructor(options: MemoryClusterStateOptions = {}) {
    this.shared = options.hub !== undefined;
    this.#hub = options.hub ?? new MemoryClusterHub();
    this.nodeId = options.nodeId ?? randomUUID();
    this.leaseMs = checkedLease(options.leaseMs);
  }

  get epoch(): number {
    return this.#epoch;
  }

  async start(): Promise<void> {
    this.#assertOpen();
    if (this.#epoch !== 0) return;
    this.#epoch = this.#hub.register(this.nodeId, this.leaseMs);
    this.#timer = setInterval(() => this.#tick(), sweepInterval(this.leaseMs));
    this.#timer.unref();
  }

  async hold(scope: string, member: string, data: unknown): Promise<void> {
    await this.#assertStarted();
    this.#held.set(entryKey(member, scope), { scope, member, data });
    this.#hub.hold(scope, member, this.nodeId, data);
  }

  async release(scope: string, member: string): Promise<void> {
    await this.#assertStarted();
    this.#held.delete(entryKey(member, scope));
    this.#hub.release(scope, member, this.nodeId, this.nodeId, 'released');
  }

  async snapshot(scope: string): Promise<ClusterSnapshot> {
    this.#assertOpen();
    return this.#hub.snapshot(scope);
  }

  onChange(listener: ClusterChangeListener): () => void {
    return this.#hub.listen(listener);
  }

  async signal(scope: string, data: unknown): Promise<void> {
    await this.#assertStarted();
    this.#hub.signal(scope, this.nodeId, JSON.parse(JSON.stringify(data ?? null)) as unknown);
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    this.#assertOpen();
    return this.#hub.claim(key, ttlMs);
  }

  /** Stops renewing without releasing anything, as a killed process would (for tests). */
  abandon(): void {
    clearInterval(this.#timer);
    this.#closed = true;
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#epoch !== 0) this.#hub.unregister(this.nodeId, this.#epoch);
    this.#held.clear();
    return Promise.resolve();
  }

  #tick(): void {
    if (!this.#hub.renew(this.nodeId, this.#epoch, this.leaseMs)) {
      // Fenced: the lease expired (this process hung) and the entries were released. Start over under a new
      // epoch and hold what this node still holds.
      this.#epoch = this.#hub.register(this.nodeId, this.leaseMs);
      for (const { scope, member, data } of this.#held.values())
        this.#hub.hold(scope, member, this.nodeId, data);
    }
    this.#hub.sweep(this.nodeId);
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', `Cluster state of node ${this.nodeId} was closed.`);
  }

  async #assertStarted(): Promise<void> {
    this.#assertOpen();
    if (this.#epoch === 0) await this.start();
    else if (this.#hub.fenced(this.nodeId, this.#epoch)) this.#tick();
  }
}

function entryKey(member: string, other: string): string {
  return `${member}\n${other}`;
}

/** How often a node renews its lease and sweeps expired ones: a quarter of the lease, at least 50 ms. */
export function sweepInterval(leaseMs: number): number {
  return Math.max(50, Math.floor(leaseMs / 4));
}

/** The lease option, checked. */
export function checkedLease(leaseMs: number | undefined): number {
  if (leaseMs === undefined) return DEFAULT_CLUSTER_LEASE_MS;
  if (!Number.isSafeInteger(leaseMs) || leaseMs < 200)
    throw new AtmosphereError(
      'INVALID_OPTION',
      `The cluster-state option \`leaseMs\` must be an integer >= 200; got ${String(leaseMs)}.`,
    );
  return leaseMs;
}
