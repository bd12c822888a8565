import { EncodedMessage, encodePayload } from '../delivery/encoded-message.ts';
import type { ClientResource } from '../delivery/resource.ts';
import { resumeStream } from '../delivery/resume.ts';
import type { StreamSequencer } from './stream-sequencer.ts';
import { AtmosphereError, toError } from '../errors.ts';
import type { BackplaneMessage, BroadcasterBackplane } from '../spi/backplane.ts';
import type { BroadcastFilter, FilterContext, FilterPayload, FilterResult } from '../spi/filter.ts';
import type { Logger } from '../spi/logger.ts';
import type { AtmosphereResource, Subscription } from '../spi/resource.ts';
import {
  BATCH_ENTRIES,
  BATCH_PAYLOAD,
  type LogEntry,
  payloadSize,
  type StreamLog,
  type StreamPosition,
} from '../spi/stream-log.ts';
import type { SpanAttributes, TraceSpan } from '../spi/tracing.ts';
import type { RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import { after } from '../util/after.ts';

export interface BroadcasterOptions {
  /** Destroy the broadcaster when its last resource leaves. Default false (true for path-template channels). */
  destroyWhenEmpty?: boolean;
  /**
   * Attributes added to this broadcaster's spans (`atmosphere.broadcast`, and `atmosphere.backplane.relay` on the
   * nodes that deliver its relayed messages), e.g. `{ 'atmosphere.room': name }` for a room's channel. Low
   * cardinality only: they are on every span of the channel.
   */
  spanAttributes?: SpanAttributes;
  /**
   * Hand this broadcaster's messages to the other nodes of a cluster (default true). False keeps them on this
   * node: nothing is published to the backplane. Such a broadcaster's id should be unique to the node when the
   * stream log is shared (its positions are then this node's alone).
   */
  relay?: boolean;
  /**
   * Called with each message of this broadcaster that was published on another node (or read from the shared
   * log to fill a gap), just before this node's subscribers get it, in the order they get it: what a channel
   * that keeps state per node (a room's history) needs to see of the traffic it did not send itself. Never
   * called for a message sent on this node, even one held back while a gap before it was filled.
   */
  relayed?: (payload: string | Uint8Array, targets: readonly string[] | undefined) => void;
}

/** Who receives a broadcast. */
export interface BroadcastOptions {
  /** Only these resources (or tracking ids), instead of every subscriber. */
  to?: AtmosphereResource | string | Iterable<AtmosphereResource | string>;
  /** Every subscriber except this one (usually the sender). */
  exclude?: AtmosphereResource | string;
}

/** What a broadcaster needs from its factory. */
export interface BroadcasterHost {
  readonly logger: Logger;
  /** The selected metrics and tracing providers' instruments. */
  readonly telemetry: RuntimeTelemetry;
  readonly backplane: BroadcasterBackplane;
  /** Where every delivered message gets its position before it reaches a socket. */
  readonly log: StreamLog;
  /**
   * With a log shared by several nodes: every positioned message passes it before delivery, so that this
   * node delivers each stream in log order, gaps filled (`StreamSequencer`).
   */
  readonly sequencer: StreamSequencer | undefined;
  /** A message of this node's own that the sequencer held back (it delivers it once the gap before is filled). */
  heldBack(message: EncodedMessage): void;
  /** A resource of this node by tracking id. */
  resource(id: string): ClientResource | undefined;
  /** The broadcaster became empty (and wants to be destroyed). */
  broadcasterEmpty(broadcaster: Broadcaster): void;
}

const RESOLVED: Promise<void> = Promise.resolve();

function isPromise<T>(value: unknown): value is Promise<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * The messages of one turn on their way to a store that takes them together (`StreamLog.batchAppends`): one
 * `append`, one promise for every broadcast of the batch. Parallel arrays, so that a message costs its log
 * entry and a few array slots.
 */
class AppendBatch {
  readonly entries: LogEntry[] = [];
  readonly messages: EncodedMessage[] = [];
  readonly targets: (readonly string[] | undefined)[] = [];
  readonly excludes: (string | undefined)[] = [];
  /** Start times (metrics on) and spans (tracing on), per message; undefined while off. */
  started: number[] | undefined;
  spans: (TraceSpan | undefined)[] | undefined;
  payload = 0;
  readonly promise: Promise<void>;
  resolve!: () => void;
  reject!: (error: unknown) => void;

  constructor() {
    this.promise = new Promise<void>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  get full(): boolean {
    return this.entries.length >= BATCH_ENTRIES || this.payload >= BATCH_PAYLOAD;
  }
}

/** A resource object (not an id or a list) that is open: the live resource of its tracking id on this node. */
function isLiveResource(to: BroadcastOptions['to']): to is ClientResource {
  return (
    typeof to === 'object' &&
    typeof (to as Partial<ClientResource>).deliver === 'function' &&
    (to as ClientResource).state !== 'closed'
  );
}

/** The log entry of a delivered message: targets and exclude only when there are some. */
function logEntry(
  payload: FilterPayload,
  targets: readonly string[] | undefined,
  exclude: string | undefined,
): LogEntry {
  if (targets !== undefined) return { payload, targets };
  if (exclude !== undefined) return { payload, exclude };
  return { payload };
}

function allStrings(values: readonly unknown[]): boolean {
  for (let i = 0; i < values.length; i++) if (typeof values[i] !== 'string') return false;
  return true;
}

function targetIds(to: BroadcastOptions['to']): readonly string[] | undefined {
  if (to === undefined) return undefined;
  if (typeof to === 'string') return [to];
  // An array of ids is used as it is (no copy): AI sessions address every token to the same client.
  if (Array.isArray(to) && allStrings(to)) return to as readonly string[];
  if (typeof (to as Partial<Iterable<unknown>>)[Symbol.iterator] !== 'function')
    return [(to as AtmosphereResource).id];
  const ids: string[] = [];
  for (const target of to as Iterable<AtmosphereResource | string>)
    ids.push(typeof target === 'string' ? target : target.id);
  return ids;
}

/**
 * A named channel. Subscribed resources receive what is broadcast to it, after the filter chain; the message
 * is serialised once per broadcast and shared by every subscriber. Broadcasts keep their order, even when a
 * filter is asynchronous. With a clustering backplane, broadcasts reach the subscribers of every node.
 */
export class Broadcaster implements Subscription {
  readonly id: string;
  readonly options: Readonly<BroadcasterOptions>;
  readonly #resources = new Map<string, ClientResource>();
  readonly #filters: BroadcastFilter[] = [];
  readonly #host: BroadcasterHost;
  /** The clustering backplane, unless it is the local one (which relays nothing). */
  readonly #relay: BroadcasterBackplane | undefined;
  readonly #log: StreamLog;
  /** The `atmosphere.broadcast` span's attributes, made once. */
  readonly #broadcastAttributes: SpanAttributes;
  /**
   * @internal The attributes of the span of a message of this broadcaster relayed from another node
   * (`atmosphere.backplane.relay`): made once, like those of its broadcasts, not once per relayed message.
   */
  readonly relaySpanAttributes: SpanAttributes;
  #tail: Promise<void> | undefined;
  #inFlight = 0;
  /**
   * Broadcasts that entered through the filters and have not been delivered yet: while there are any, a new
   * broadcast waits for them (an asynchronous filter must not be overtaken).
   */
  #filtered = 0;
  /**
   * Messages whose append was issued and that are not delivered yet, in append order: each is delivered after
   * the one before it. Appends themselves are issued at once, so a durable log writes a burst in one batch.
   */
  #placeTail: Promise<void> | undefined;
  #placing = 0;
  /** The messages of this turn not yet handed to a store that takes a turn's appends together. */
  #batch: AppendBatch | undefined;
  readonly #flushBatch = (): void => {
    const batch = this.#batch;
    if (batch !== undefined) this.#appendBatch(batch);
  };
  #destroyed = false;

  constructor(id: string, host: BroadcasterHost, options: BroadcasterOptions = {}) {
    this.id = id;
    this.#host = host;
    this.#relay = host.backplane.name === 'local' || options.relay === false ? undefined : host.backplane;
    this.#log = host.log;
    this.options = Object.freeze({ ...options });
    this.#broadcastAttributes = Object.freeze({
      ...options.spanAttributes,
      'atmosphere.broadcaster': id,
      'atmosphere.action': 'broadcast',
    });
    this.relaySpanAttributes = Object.freeze({
      ...options.spanAttributes,
      'atmosphere.broadcaster': id,
      'atmosphere.action': 'relay',
    });
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /** Number of subscribed resources on this node. */
  get size(): number {
    return this.#resources.size;
  }

  resources(): IterableIterator<AtmosphereResource> {
    return this.#resources.values();
  }

  has(resource: AtmosphereResource | string): boolean {
    return this.#resources.has(typeof resource === 'string' ? resource : resource.id);
  }

  /** Subscribes a resource. A closed resource is refused. */
  addResource(subscriber: AtmosphereResource): this {
    const resource = subscriber as ClientResource;
    this.#assertAlive();
    if (resource.state === 'closed') {
      throw new AtmosphereError(
        'CLOSED',
        `Resource ${resource.id} is closed and cannot subscribe to ${this.id}.`,
      );
    }
    this.#resources.set(resource.id, resource);
    resource.addSubscription(this);
    // Subscribed first (live messages queue for it), then a client that came back with its cursor of this
    // stream gets what it missed from the log, or a reset.
    const cursor = resource.positions ? resource.takeCursor(this.id) : undefined;
    if (cursor !== undefined) resumeStream(resource, this.id, cursor, this.#log, this.#host.logger);
    return this;
  }

  removeResource(subscriber: AtmosphereResource): void {
    const resource = subscriber as ClientResource;
    if (!this.#resources.delete(resource.id)) return;
    resource.removeSubscription(this);
    if (this.#resources.size === 0 && this.options.destroyWhenEmpty) this.#host.broadcasterEmpty(this);
  }

  /** Appends a filter to the chain. */
  addFilter(filter: BroadcastFilter): this {
    this.#filters.push(filter);
    return this;
  }

  removeFilter(filter: BroadcastFilter | string): void {
    const index = this.#filters.findIndex((f) => f === filter || f.name === filter);
    if (index !== -1) this.#filters.splice(index, 1);
  }

  get filters(): readonly BroadcastFilter[] {
    return this.#filters;
  }

  /** Broadcasts still in an asynchronous filter (0 when every broadcast so far has been delivered). */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Resolves once every broadcast made so far has been delivered (or failed). */
  settled(): Promise<void> {
    return this.#tail ?? RESOLVED;
  }

  /**
   * Broadcasts a message: strings and bytes as they are, anything else as JSON. Resolves once the message
   * is queued for every local recipient (and handed to the backplane). Rejects with `FILTER_FAILED` when a
   * filter throws (the message is then not delivered), `CLOSED` after `destroy()`.
   */
  broadcast(message: unknown, options?: BroadcastOptions): Promise<void> {
    let payload: FilterPayload;
    let targets: readonly string[] | undefined;
    try {
      this.#assertAlive();
      payload = encodePayload(message);
      const to = options?.to;
      if (
        this.#filters.length === 0 &&
        this.#filtered === 0 &&
        (this.#placeTail === undefined || this.#log.batchAppends === true) &&
        this.#relay === undefined &&
        isLiveResource(to)
      ) {
        // One resource of this node and nothing in between (an AI token to the client that asked): the
        // same delivery as by its id, without looking the id up. As there, `exclude` does not apply to
        // addressed messages.
        const targets: readonly string[] = [to.id];
        const message = new EncodedMessage(payload, this.id);
        const telemetry = this.#host.telemetry;
        // 0: not timed (one broadcast in `broadcastTiming` is).
        const started = telemetry.metricsOn && telemetry.timeBroadcast() ? performance.now() : 0;
        if (this.#log.batchAppends === true)
          return this.#enqueue(message, { payload, targets }, targets, undefined, started, undefined);
        const position = this.#log.append(this.id, [{ payload, targets }]);
        if (isPromise<StreamPosition>(position))
          return this.#track(this.#inOrder(message, position, targets, undefined, started, undefined));
        message.position = position;
        to.deliver(message);
        if (telemetry.metricsOn) {
          telemetry.broadcasts.add();
          telemetry.delivered.add();
          if (started !== 0) telemetry.broadcastSeconds.observe((performance.now() - started) / 1000);
        }
        return RESOLVED;
      }
      targets = targetIds(to);
    } catch (error) {
      return Promise.reject(toError(error));
    }
    const exclude =
      options?.exclude === undefined
        ? undefined
        : typeof options.exclude === 'string'
          ? options.exclude
          : options.exclude.id;
    return this.#enter(payload, 0, targets, exclude);
  }

  #enter(
    payload: FilterPayload,
    from: number,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): Promise<void> {
    if (this.#filters.length > from || this.#filtered > 0) {
      // Through filters: in order behind every broadcast not delivered yet (a filter may be asynchronous).
      this.#filtered++;
      const done = (): void => {
        this.#filtered--;
      };
      const step = (): void | Promise<void> => this.#run(payload, from, targets, exclude);
      const entered = this.#tail !== undefined ? this.#chain(step) : this.#runTracked(step);
      void entered.then(done, done);
      return entered;
    }
    if (this.#log.batchAppends === true) {
      // No filter, a store that takes a turn's appends together: into this turn's batch (tracked once).
      try {
        return this.#publish(payload, targets, exclude) ?? RESOLVED;
      } catch (error) {
        return Promise.reject(toError(error));
      }
    }
    // No filter: the append is issued now and the delivery waits for the ones before (`#inOrder`).
    return this.#runTracked(() => this.#run(payload, from, targets, exclude));
  }

  #runTracked(step: () => void | Promise<void>): Promise<void> {
    let result: void | Promise<void>;
    try {
      result = step();
    } catch (error) {
      return Promise.reject(toError(error));
    }
    if (result === undefined) return RESOLVED;
    return this.#track(result);
  }

  #chain(step: () => void | Promise<void>): Promise<void> {
    const next = this.#tail!.then(step);
    return this.#track(next);
  }

  #track(promise: Promise<void>): Promise<void> {
    this.#inFlight++;
    const settled = promise.then(
      () => this.#settle(),
      () => this.#settle(),
    );
    this.#tail = settled;
    return promise;
  }

  #settle(): void {
    if (--this.#inFlight === 0) this.#tail = undefined;
  }

  /** Runs filters from `from`; delivers synchronously unless a filter is asynchronous. */
  #run(
    payload: FilterPayload,
    from: number,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): void | Promise<void> {
    const filters = this.#filters;
    for (let i = from; i < filters.length; i++) {
      const filter = filters[i]!;
      let result: FilterResult | Promise<FilterResult>;
      try {
        result = filter.filter(payload, this.#context(i, targets, exclude));
      } catch (error) {
        throw this.#filterFailed(filter, error);
      }
      if (isPromise<FilterResult>(result)) {
        return result.then(
          (resolved) => {
            const next = this.#apply(resolved);
            if (next === STOP) return;
            if (next === SKIP_REST)
              return this.#publish((resolved as { payload: FilterPayload }).payload, targets, exclude);
            return this.#run(next, i + 1, targets, exclude);
          },
          (error: unknown) => {
            throw this.#filterFailed(filter, error);
          },
        );
      }
      const next = this.#apply(result);
      if (next === STOP) return;
      if (next === SKIP_REST)
        return this.#publish((result as { payload: FilterPayload }).payload, targets, exclude);
      payload = next;
    }
    return this.#publish(payload, targets, exclude);
  }

  #apply(result: FilterResult): FilterPayload | typeof STOP | typeof SKIP_REST {
    if (result === null || result === undefined) return STOP;
    if (typeof result === 'string' || result instanceof Uint8Array) return result;
    if (result.action === 'hold') return STOP;
    return SKIP_REST;
  }

  #context(
    index: number,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): FilterContext {
    return {
      broadcaster: this,
      targets,
      release: (payload) => {
        if (this.#destroyed) return;
        this.#enter(payload, index + 1, targets, exclude).catch((error: unknown) =>
          this.#host.logger.error(`broadcaster ${this.id}: a released message failed`, { error }),
        );
      },
    };
  }

  #filterFailed(filter: BroadcastFilter, error: unknown): AtmosphereError {
    this.#host.logger.error(
      `broadcaster ${this.id}: filter '${filter.name}' threw; the message was not delivered`,
      { error },
    );
    return new AtmosphereError(
      'FILTER_FAILED',
      `Filter '${filter.name}' of broadcaster ${this.id} failed, so the message was not delivered: ${String((error as Error)?.message ?? error)}`,
      { cause: error },
    );
  }

  /** The message passed every filter: it gets its position in the log, then goes to the other nodes and ours. */
  #publish(
    payload: FilterPayload,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): void | Promise<void> {
    if (this.#destroyed) return;
    const message = new EncodedMessage(payload, this.id);
    const telemetry = this.#host.telemetry;
    // 0: not timed (one broadcast in `broadcastTiming` is).
    const started = telemetry.metricsOn && telemetry.timeBroadcast() ? performance.now() : 0;
    const span = telemetry.tracingOn
      ? telemetry.tracing.startSpan('atmosphere.broadcast', this.#broadcastAttributes)
      : undefined;
    if (this.#log.batchAppends === true)
      return this.#enqueue(message, logEntry(payload, targets, exclude), targets, exclude, started, span);
    let position: StreamPosition | Promise<StreamPosition>;
    try {
      position = this.#log.append(this.id, [logEntry(payload, targets, exclude)]);
    } catch (error) {
      throw this.#logFailed(error, span);
    }
    if (isPromise<StreamPosition>(position) || this.#placeTail !== undefined)
      return this.#inOrder(message, position, targets, exclude, started, span);
    this.#placed(message, position, targets, exclude, started, span);
  }

  /**
   * Adds a message to this turn's batch (a store that takes a turn's appends together): the batch is appended
   * in one call at the end of the current job (a microtask), or at once when full, and its messages are
   * delivered in order once it has its positions, after every message appended before. Returns the batch's
   * promise, shared by its broadcasts: tracked once (`settled()`), unless a filter chain already waits for it.
   */
  #enqueue(
    message: EncodedMessage,
    entry: LogEntry,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
    started: number,
    span: TraceSpan | undefined,
  ): Promise<void> {
    let batch = this.#batch;
    if (batch === undefined) {
      batch = this.#batch = new AppendBatch();
      queueMicrotask(this.#flushBatch);
      // Inside a filter chain (`#filtered` > 0) the chain's own promise waits for this one: tracking it here
      // too would let a later broadcast overtake the chain.
      if (this.#filtered === 0) void this.#track(batch.promise);
    }
    const index = batch.entries.length;
    batch.entries.push(entry);
    batch.messages.push(message);
    batch.targets.push(targets);
    batch.excludes.push(exclude);
    if (started !== 0) (batch.started ??= [])[index] = started;
    if (span !== undefined) (batch.spans ??= [])[index] = span;
    batch.payload += payloadSize(entry.payload);
    if (batch.full) this.#appendBatch(batch);
    return batch.promise;
  }

  /** Appends a batch in one call; its messages are delivered after those appended before, in order. */
  #appendBatch(batch: AppendBatch): void {
    if (this.#batch === batch) this.#batch = undefined;
    let position: StreamPosition | Promise<StreamPosition>;
    try {
      position = this.#log.append(this.id, batch.entries);
    } catch (error) {
      this.#batchFailed(batch, error);
      return;
    }
    const before = this.#placeTail;
    if (before === undefined && !isPromise<StreamPosition>(position)) {
      this.#placeBatch(batch, position);
      return;
    }
    const placed = after(before, position).then(
      (at) => this.#placeBatch(batch, at),
      (error: unknown) => this.#batchFailed(batch, error),
    );
    this.#placing++;
    this.#placeTail = placed.then(this.#placedOne);
  }

  readonly #placedOne = (): void => {
    if (--this.#placing === 0) this.#placeTail = undefined;
  };

  /** Delivers a batch's messages, each at its position (the first's seq + its index), then settles them. */
  #placeBatch(batch: AppendBatch, first: StreamPosition): void {
    const { messages, targets, excludes, started, spans } = batch;
    try {
      for (let i = 0; i < messages.length; i++) {
        this.#placed(
          messages[i]!,
          i === 0 ? first : { epoch: first.epoch, seq: first.seq + i },
          targets[i],
          excludes[i],
          started?.[i] ?? 0,
          spans?.[i],
        );
      }
    } catch (error) {
      batch.reject(toError(error));
      return;
    }
    batch.resolve();
  }

  /** The store refused a batch: nothing of it was stored or delivered, and every one of its broadcasts says so. */
  #batchFailed(batch: AppendBatch, error: unknown): void {
    if (batch.spans !== undefined)
      for (const span of batch.spans) if (span !== undefined) this.#spanFailed(span, error);
    batch.reject(this.#logFailed(error, undefined, batch.entries.length));
  }

  /**
   * Delivers a message once its append resolved and every message appended before it was delivered: appends
   * run concurrently (batched by the log), deliveries stay in append order.
   */
  #inOrder(
    message: EncodedMessage,
    position: StreamPosition | Promise<StreamPosition>,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
    started: number,
    span: TraceSpan | undefined,
  ): Promise<void> {
    const before = this.#placeTail;
    const placed = after(before, position).then(
      (at) => this.#placed(message, at, targets, exclude, started, span),
      (error: unknown) => {
        throw this.#logFailed(error, span);
      },
    );
    this.#placing++;
    const done = (): void => {
      if (--this.#placing === 0) this.#placeTail = undefined;
    };
    this.#placeTail = placed.then(done, done);
    return placed;
  }

  /** Relays and delivers a message the log has placed. */
  #placed(
    message: EncodedMessage,
    position: StreamPosition,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
    started: number,
    span: TraceSpan | undefined,
  ): void {
    message.position = position;
    const backplane = this.#relay;
    const telemetry = this.#host.telemetry;
    if (backplane !== undefined) {
      const envelope: BackplaneMessage = { broadcaster: this.id, payload: message.payload };
      if (targets) envelope.targets = targets;
      if (exclude !== undefined) envelope.exclude = exclude;
      if (this.#log.shared) envelope.position = position;
      if (span !== undefined) {
        const trace = telemetry.tracing.inject(span);
        if (trace !== undefined) envelope.trace = trace;
      }
      backplane.publish(envelope);
      if (telemetry.metricsOn) telemetry.relayedOut.add();
    }
    const sequencer = this.#host.sequencer;
    let delivered = 0;
    if (sequencer === undefined || sequencer.admit(this.id, message, targets, exclude))
      delivered = this.deliverLocal(message, targets, exclude);
    else this.#host.heldBack(message);
    if (telemetry.metricsOn) {
      telemetry.broadcasts.add();
      telemetry.delivered.add(delivered);
      if (started !== 0) telemetry.broadcastSeconds.observe((performance.now() - started) / 1000);
    }
    if (span !== undefined) {
      span.setAttribute('atmosphere.fanout', delivered);
      span.end();
    }
  }

  #spanFailed(span: TraceSpan, error: unknown): void {
    span.recordError(error);
    span.end();
  }

  /** Logs a refused append of `count` messages; returns the `LOG_FAILED` error their broadcasts reject with. */
  #logFailed(error: unknown, span?: TraceSpan, count = 1): AtmosphereError {
    if (span !== undefined) this.#spanFailed(span, error);
    const one = count === 1;
    this.#host.logger.error(
      `broadcaster ${this.id}: the stream log ${this.#log.name} failed; ${one ? 'the message was' : `${count} messages were`} not delivered`,
      { error },
    );
    return new AtmosphereError(
      'LOG_FAILED',
      `Stream log ${this.#log.name} could not append ${one ? 'a message' : `${count} messages`} of broadcaster ${this.id}, so ${one ? 'it was' : 'they were'} not delivered: ${String((error as Error)?.message ?? error)}`,
      { cause: error },
    );
  }

  /** @internal Delivers an already-filtered message to this node's recipients; returns how many. */
  deliverLocal(
    message: EncodedMessage,
    targets: readonly string[] | undefined,
    exclude: string | undefined,
  ): number {
    let delivered = 0;
    if (targets !== undefined) {
      for (const id of targets) {
        const resource = this.#resources.get(id) ?? this.#host.resource(id);
        if (resource !== undefined) {
          resource.deliver(message);
          delivered++;
        }
      }
      return delivered;
    }
    for (const resource of this.#resources.values()) {
      if (resource.id !== exclude) {
        resource.deliver(message);
        delivered++;
      }
    }
    return delivered;
  }

  /** Unsubscribes everyone and refuses further broadcasts. Resources stay open. */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    for (const resource of [...this.#resources.values()]) {
      this.#resources.delete(resource.id);
      resource.removeSubscription(this);
    }
  }

  #assertAlive(): void {
    if (this.#destroyed) throw new AtmosphereError('CLOSED', `Broadcaster ${this.id} was destroyed.`);
  }
}

const STOP = Symbol('stop');
const SKIP_REST = Symbol('skip-rest');
