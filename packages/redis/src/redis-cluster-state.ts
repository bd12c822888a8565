import { randomUUID } from 'node:crypto';
import { AtmosphereError, type Logger } from '@atmosphere/runtime';
import {
  type ClusterChange,
  type ClusterChangeListener,
  type ClusterEntry,
  type ClusterSnapshot,
  type ClusterState,
  DEFAULT_CLUSTER_LEASE_MS,
} from '@atmosphere/runtime/spi';

/** The part of an ioredis connection the cluster state uses (structural: ioredis 5 or 6). */
export interface ClusterStateConnection {
  readonly status: string;
  connect(): Promise<void>;
  eval(script: string, numKeys: number, ...args: (string | number)[]): Promise<unknown>;
  set(key: string, value: string, px: 'PX', ttl: number, nx: 'NX'): Promise<string | null>;
  publish(channel: string, message: string): Promise<number>;
  /** `INFO <section>` (ioredis has it): when present, a Redis in cluster mode is refused at start. */
  info?(section: 'cluster'): Promise<string>;
  subscribe(channel: string): Promise<unknown>;
  on(event: 'message', listener: (channel: string, message: string) => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready', listener: () => void): unknown;
  quit(): Promise<unknown>;
  disconnect(): void;
}

/** How a {@link RedisClusterState} is set up. */
export interface RedisClusterStateConfig {
  /** Opens one connection (lazily); called twice: commands and the change subscription. */
  readonly connect: (role: 'commands' | 'changes') => ClusterStateConnection;
  /** Prefix of every key and of the change channel. Default `atmosphere:cluster:`. */
  readonly keyPrefix?: string | undefined;
  readonly nodeId?: string | undefined;
  readonly leaseMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

// Every script takes the key prefix as ARGV[1] and builds its keys from it: one Redis (or a primary with
// replicas), not a Redis Cluster, whose slots would need every key declared.
const LIB = `
local P = ARGV[1]
local function release(scope, member, node, by, reason)
  if redis.call('HDEL', P .. 'scope:' .. scope, member .. '\\0' .. node) == 0 then return end
  redis.call('SREM', P .. 'held:' .. node, scope .. '\\0' .. member)
  local seq = redis.call('INCR', P .. 'seq:' .. scope)
  redis.call('PUBLISH', P .. 'changes', cjson.encode({ a = 'release', s = scope, m = member, n = node, b = by, r = reason, q = seq }))
end
local function releaseAll(node, by, reason)
  for _, e in ipairs(redis.call('SMEMBERS', P .. 'held:' .. node)) do
    local i = string.find(e, '\\0', 1, true)
    release(string.sub(e, 1, i - 1), string.sub(e, i + 1), node, by, reason)
  end
  redis.call('DEL', P .. 'held:' .. node)
end
local function fenced(node, epoch)
  return redis.call('HGET', P .. 'nodes', node) ~= epoch
end
`;

/** ARGV: prefix, node, leaseMs. Returns the new epoch; drops what a previous run of the node left. */
const REGISTER = `${LIB}
local node = ARGV[2]
local epoch = redis.call('INCR', P .. 'epoch')
releaseAll(node, node, 'restarted')
redis.call('HSET', P .. 'nodes', node, epoch)
redis.call('SET', P .. 'lease:' .. node, epoch, 'PX', ARGV[3])
return epoch`;

/** ARGV: prefix, node, epoch, leaseMs. 0 when fenced. */
const RENEW = `${LIB}
if fenced(ARGV[2], ARGV[3]) then return 0 end
redis.call('SET', P .. 'lease:' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
return 1`;

/** ARGV: prefix, by. Releases the entries of every node whose lease expired. */
const SWEEP = `${LIB}
local swept = 0
local nodes = redis.call('HGETALL', P .. 'nodes')
for i = 1, #nodes, 2 do
  local node = nodes[i]
  if redis.call('EXISTS', P .. 'lease:' .. node) == 0 then
    releaseAll(node, ARGV[2], 'expired')
    redis.call('HDEL', P .. 'nodes', node)
    swept = swept + 1
  end
end
return swept`;

/** ARGV: prefix, node, epoch, scope, member, data. 0 when fenced. */
const HOLD = `${LIB}
local node, scope, member = ARGV[2], ARGV[4], ARGV[5]
if fenced(node, ARGV[3]) then return 0 end
redis.call('HSET', P .. 'scope:' .. scope, member .. '\\0' .. node, ARGV[6])
redis.call('SADD', P .. 'held:' .. node, scope .. '\\0' .. member)
local seq = redis.call('INCR', P .. 'seq:' .. scope)
redis.call('PUBLISH', P .. 'changes', cjson.encode({ a = 'hold', s = scope, m = member, n = node, b = node, d = ARGV[6], q = seq }))
return 1`;

/** ARGV: prefix, node, epoch, scope, member. 0 when fenced. */
const RELEASE = `${LIB}
if fenced(ARGV[2], ARGV[3]) then return 0 end
release(ARGV[4], ARGV[5], ARGV[2], ARGV[2], 'released')
return 1`;

/** ARGV: prefix, node, epoch. */
const UNREGISTER = `${LIB}
if fenced(ARGV[2], ARGV[3]) then return 0 end
releaseAll(ARGV[2], ARGV[2], 'released')
redis.call('HDEL', P .. 'nodes', ARGV[2])
redis.call('DEL', P .. 'lease:' .. ARGV[2])
return 1`;

/** ARGV: prefix, scope. Returns { seq, field, data, field, data, … } in one read. */
const SNAPSHOT = `
local P = ARGV[1]
local seq = redis.call('GET', P .. 'seq:' .. ARGV[2]) or '0'
return { seq, redis.call('HGETALL', P .. 'scope:' .. ARGV[2]) }`;

/** What this node last knew of a scope it loaded: the entries (`member\0node` → data JSON) and their seq. */
interface Mirror {
  seq: number;
  readonly entries: Map<string, string>;
}

interface WireChange {
  a: 'hold' | 'release' | 'signal';
  s: string;
  m: string;
  n: string;
  b: string;
  d?: string;
  r?: 'released' | 'expired' | 'restarted';
  q?: number;
}

/**
 * `cluster-state` in Redis: each node's lease is a key with a TTL, renewed every quarter lease and fenced by
 * an epoch (`INCR`), its entries a hash per scope, every change published on `<prefix>changes` by the script
 * that made it (so the change and its `seq` are atomic). Every node sweeps expired leases once per quarter
 * lease; the sweep is a script, so the entries of a dead node are released once, by whichever node comes
 * first.
 */
export class RedisClusterState implements ClusterState {
  readonly name = 'redis';
  readonly shared = true;
  readonly nodeId: string;
  readonly leaseMs: number;
  readonly #prefix: string;
  readonly #config: RedisClusterStateConfig;
  readonly #listeners = new Set<ClusterChangeListener>();
  readonly #held = new Map<string, { scope: string; member: string; json: string }>();
  #commands: ClusterStateConnection | undefined;
  #changes: ClusterStateConnection | undefined;
  #epoch = 0;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #ticking = false;
  #starting: Promise<void> | undefined;
  #refencing: Promise<void> | undefined;
  /** The scopes this node loaded (`snapshot`), kept up to date from the changes: what a catch-up diffs against. */
  readonly #mirrors = new Map<string, Mirror>();
  /** Changes received while catching up after the change subscription came back, handed on after it. */
  #heldBack: string[] | undefined;
  #readyOnce = false;

  constructor(config: RedisClusterStateConfig) {
    this.#config = config;
    this.#prefix = config.keyPrefix ?? 'atmosphere:cluster:';
    this.nodeId = config.nodeId ?? randomUUID();
    const lease = config.leaseMs ?? DEFAULT_CLUSTER_LEASE_MS;
    if (!Number.isSafeInteger(lease) || lease < 200)
      throw new AtmosphereError(
        'INVALID_OPTION',
        `redisClusterState option \`leaseMs\` must be an integer >= 200; got ${String(config.leaseMs)}.`,
      );
    this.leaseMs = lease;
  }

  get epoch(): number {
    return this.#epoch;
  }

  start(): Promise<void> {
    this.#assertOpen();
    return (this.#starting ??= this.#start());
  }

  async #start(): Promise<void> {
    const changes = (this.#changes = this.#config.connect('changes'));
    const commands = (this.#commands = this.#config.connect('commands'));
    const logged = (error: Error): void =>
      this.#config.logger?.debug(`redis cluster state: ${error.message}`);
    changes.on('error', logged);
    commands.on('error', logged);
    changes.on('message', (channel, message) => {
      if (this.#heldBack !== undefined) this.#heldBack.push(message);
      else this.#received(message);
    });
    changes.on('ready', () => {
      // The first 'ready' is the start; a later one is the subscription back after a cut: what changed
      // meanwhile was published to nobody here, so this node catches up from the store.
      if (!this.#readyOnce) this.#readyOnce = true;
      else if (this.#heldBack === undefined && !this.#closed) void this.#catchUp();
    });
    await Promise.all([changes.connect(), commands.connect()]);
    // A Redis that refuses INFO (an ACL) is taken as it is.
    const info = commands.info === undefined ? '' : await commands.info('cluster').catch(() => '');
    if (/^cluster_enabled:1\b/m.test(info))
      throw new AtmosphereError(
        'PROVIDER_FAILED',
        'The Redis cluster state cannot use a Redis in cluster mode (cluster_enabled:1): its Lua scripts build ' +
          'their keys from the key prefix, and a Redis Cluster spreads keys over hash slots. Point ' +
          'ATMOSPHERE_REDIS_URL (or redisClusterState({ url })) at a standalone Redis (a primary with replicas, ' +
          'or one managed by Sentinel).',
      );
    await changes.subscribe(`${this.#prefix}changes`);
    this.#epoch = Number(await this.#eval(REGISTER, this.nodeId, this.leaseMs));
    this.#timer = setInterval(() => void this.#tick(), Math.max(50, Math.floor(this.leaseMs / 4)));
    this.#timer.unref();
  }

  async hold(scope: string, member: string, data: unknown): Promise<void> {
    await this.#started();
    const json = JSON.stringify(data ?? null);
    this.#held.set(`${scope}\0${member}`, { scope, member, json });
    if (Number(await this.#eval(HOLD, this.nodeId, this.#epoch, scope, member, json)) === 0)
      await this.#refence();
  }

  async release(scope: string, member: string): Promise<void> {
    await this.#started();
    this.#held.delete(`${scope}\0${member}`);
    if (Number(await this.#eval(RELEASE, this.nodeId, this.#epoch, scope, member)) === 0)
      await this.#refence();
  }

  async snapshot(scope: string): Promise<ClusterSnapshot> {
    await this.#started();
    const read = await this.#read(scope);
    const mirror = this.#mirrors.get(scope);
    if (mirror === undefined || read.seq >= mirror.seq) this.#mirrors.set(scope, read);
    const entries: ClusterEntry[] = [];
    for (const [field, json] of read.entries) {
      const cut = field.indexOf('\0');
      entries.push({
        scope,
        member: field.slice(0, cut),
        node: field.slice(cut + 1),
        data: JSON.parse(json) as unknown,
      });
    }
    return { seq: read.seq, entries };
  }

  forget(scope: string): void {
    this.#mirrors.delete(scope);
  }

  async #read(scope: string): Promise<Mirror> {
    const [seq, flat] = (await this.#eval(SNAPSHOT, scope)) as [string, string[]];
    const entries = new Map<string, string>();
    for (let i = 0; i < flat.length; i += 2) entries.set(flat[i]!, flat[i + 1]!);
    return { seq: Number(seq), entries };
  }

  /**
   * The change subscription is back after a cut: changes published meanwhile never reached this node. For
   * every scope it loaded, the store's entries are read again and the difference is handed to the listeners
   * as the changes that make it (releases, then holds), numbered within the seqs they missed so that a
   * listener keeping the last seq takes them; changes that arrive meanwhile wait and follow, those the read
   * already holds dropped. Listeners see the net effect of the cut, not each change made during it.
   */
  async #catchUp(): Promise<void> {
    this.#heldBack = [];
    try {
      await this.#changes!.subscribe(`${this.#prefix}changes`);
      for (const [scope, mirror] of this.#mirrors) {
        const fresh = await this.#read(scope);
        if (fresh.seq <= mirror.seq) continue;
        const made: WireChange[] = [];
        for (const [field] of mirror.entries)
          if (!fresh.entries.has(field)) made.push(this.#wire('release', scope, field));
        for (const [field, json] of fresh.entries)
          if (mirror.entries.get(field) !== json) made.push(this.#wire('hold', scope, field, json));
        this.#config.logger?.info(
          `redis cluster state: the change subscription is back; ${scope} caught up from seq ${mirror.seq} to ${fresh.seq} (${made.length} change(s))`,
        );
        // At most one change per missed seq touched each entry: the seqs after the mirror's are enough.
        let seq = fresh.seq - made.length;
        for (const change of made) {
          change.q = ++seq;
          this.#received(JSON.stringify(change));
        }
        this.#mirrors.set(scope, fresh);
      }
    } catch (error) {
      this.#config.logger?.warn(
        `redis cluster state: node ${this.nodeId} could not catch up after its change subscription came back; its views catch up when their rooms open again`,
        { error },
      );
    } finally {
      const waiting = this.#heldBack;
      this.#heldBack = undefined;
      for (const message of waiting) this.#received(message);
    }
  }

  #wire(action: 'hold' | 'release', scope: string, field: string, json?: string): WireChange {
    const cut = field.indexOf('\0');
    const node = field.slice(cut + 1);
    return action === 'hold'
      ? { a: 'hold', s: scope, m: field.slice(0, cut), n: node, b: node, d: json ?? 'null' }
      : { a: 'release', s: scope, m: field.slice(0, cut), n: node, b: this.nodeId, r: 'released' };
  }

  onChange(listener: ClusterChangeListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async signal(scope: string, data: unknown): Promise<void> {
    await this.#started();
    await this.#commands!.publish(
      `${this.#prefix}changes`,
      JSON.stringify({ a: 'signal', s: scope, b: this.nodeId, d: JSON.stringify(data ?? null) }),
    );
  }

  async claim(key: string, ttlMs: number): Promise<boolean> {
    await this.#started();
    return (
      (await this.#commands!.set(`${this.#prefix}claim:${key}`, this.nodeId, 'PX', ttlMs, 'NX')) === 'OK'
    );
  }

  /** Stops renewing and drops both connections without releasing anything, as a killed process would. */
  abandon(): void {
    this.#closed = true;
    clearInterval(this.#timer);
    this.#commands?.disconnect();
    this.#changes?.disconnect();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    try {
      if (this.#epoch !== 0 && this.#commands?.status === 'ready')
        await this.#eval(UNREGISTER, this.nodeId, this.#epoch);
    } catch (error) {
      this.#config.logger?.warn(
        `redis cluster state: node ${this.nodeId} could not release its entries; they expire with its lease`,
        { error },
      );
    }
    this.#held.clear();
    for (const connection of [this.#commands, this.#changes]) {
      if (connection === undefined) continue;
      if (connection.status === 'ready') await connection.quit().catch(() => undefined);
      if (connection.status !== 'end') connection.disconnect();
    }
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#closed) return;
    this.#ticking = true;
    try {
      if (Number(await this.#eval(RENEW, this.nodeId, this.#epoch, this.leaseMs)) === 0)
        await this.#refence();
      await this.#eval(SWEEP, this.nodeId);
    } catch (error) {
      this.#config.logger?.warn(`redis cluster state: node ${this.nodeId} could not renew its lease`, {
        error,
      });
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * This node's lease expired while it ran (a hang, Redis unreachable past the lease, Redis restarted empty)
   * and its entries were released: register again under a new epoch and hold what it still holds.
   */
  #refence(): Promise<void> {
    // One at a time: a renewal and a write may both find the node fenced.
    return (this.#refencing ??= this.#register().finally(() => (this.#refencing = undefined)));
  }

  async #register(): Promise<void> {
    if (this.#closed) return;
    this.#config.logger?.warn(
      `redis cluster state: node ${this.nodeId} lost its lease (epoch ${this.#epoch}); registering again and holding its ${this.#held.size} entries`,
    );
    this.#epoch = Number(await this.#eval(REGISTER, this.nodeId, this.leaseMs));
    for (const { scope, member, json } of this.#held.values())
      await this.#eval(HOLD, this.nodeId, this.#epoch, scope, member, json);
  }

  #received(message: string): void {
    let wire: WireChange;
    try {
      wire = JSON.parse(message) as WireChange;
    } catch {
      return;
    }
    if (wire.a !== 'signal') {
      const mirror = this.#mirrors.get(wire.s);
      if (mirror !== undefined) {
        // A change the store's read after a cut already holds is not handed on twice.
        if (wire.q !== undefined && wire.q <= mirror.seq) return;
        const field = `${wire.m}\0${wire.n}`;
        if (wire.a === 'hold') mirror.entries.set(field, wire.d ?? 'null');
        else mirror.entries.delete(field);
        if (wire.q !== undefined) mirror.seq = wire.q;
      }
    }
    const change: ClusterChange =
      wire.a === 'signal'
        ? { action: 'signal', scope: wire.s, by: wire.b, data: JSON.parse(wire.d ?? 'null') as unknown }
        : wire.a === 'hold'
          ? {
              action: 'hold',
              scope: wire.s,
              member: wire.m,
              node: wire.n,
              by: wire.b,
              data: JSON.parse(wire.d ?? 'null') as unknown,
              seq: wire.q ?? 0,
            }
          : {
              action: 'release',
              scope: wire.s,
              member: wire.m,
              node: wire.n,
              by: wire.b,
              reason: wire.r ?? 'released',
              seq: wire.q ?? 0,
            };
    for (const listener of this.#listeners) {
      try {
        listener(change);
      } catch (error) {
        this.#config.logger?.error('redis cluster state: a change listener threw', { error });
      }
    }
  }

  #eval(script: string, ...args: (string | number)[]): Promise<unknown> {
    return this.#commands!.eval(script, 0, this.#prefix, ...args);
  }

  async #started(): Promise<void> {
    this.#assertOpen();
    await this.start();
  }

  #assertOpen(): void {
    if (this.#closed)
      throw new AtmosphereError('CLOSED', `The Redis cluster state of node ${this.nodeId} was closed.`);
  }
}
