import type { StreamPosition, TransportName } from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import type { Logger } from '../spi/logger.ts';
import type { WarningThrottle } from '../util/warning-throttle.ts';
import type { RuntimeTelemetry } from '../telemetry/runtime-telemetry.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type {
  AtmosphereResource,
  ConnectionSettings,
  DisconnectReason,
  ResourceEvents,
  ResourceState,
  Subscription,
} from '../spi/resource.ts';
import type { ClientQueue, Placement } from './client-queue.ts';
import type { Connection, ConnectionEnd, ConnectionOwner } from './connection.ts';
import { type EncodedMessage, toEncoded } from './encoded-message.ts';

/** Rewrites (or drops, with `undefined`) a message on its way to one resource: outbound interceptors. */
export type OutboundHook = (message: EncodedMessage, resource: ClientResource) => EncodedMessage | undefined;

/** What a resource needs from the runtime that owns it. */
export interface ResourceHost {
  readonly logger: Logger;
  /** Warnings that can come in floods (slow clients cut): the first of a kind, then counts. */
  readonly warnings: WarningThrottle;
  /** The selected metrics and tracing providers' instruments. */
  readonly telemetry: RuntimeTelemetry;
  /** Outbound interceptor hooks, in the order they run (last interceptor first); empty for none. */
  readonly outbound: readonly OutboundHook[];
  /** Called once when the resource closes for good, before `disconnect` listeners run. */
  resourceClosed(resource: ClientResource, reason: DisconnectReason): void;
  /**
   * The resource is away after a lost or cut connection, or a long-polling handshake: it counts against the
   * server-wide away cap until it returns (`resourceReturned`) or closes. A completed poll is not reported.
   */
  resourceAway(resource: ClientResource): void;
  /** A resource reported away has a connection again. */
  resourceReturned(resource: ClientResource): void;
  /** A message from the client arrived on its current connection. */
  inbound(resource: ClientResource, message: string | Uint8Array): void;
}

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * The runtime's side of an {@link AtmosphereResource}: one client across reconnections, with its queue and
 * the write path. Its transport connection may come and go (long-polling between polls, a cut network):
 * while away, messages wait in its queue and are written, in order and before anything newer, when the same
 * tracking id reconnects. It disconnects for good on a deliberate close, or when it stays away longer than
 * the grace period. Application code sees it through the {@link AtmosphereResource} interface.
 */
export class ClientResource implements AtmosphereResource, ConnectionOwner {
  /** The tracking id. */
  readonly id: string;
  /** The request path it connected to. */
  readonly path: string;
  /** Path template parameters (`/chat/{room}` → `{ room }`). */
  readonly params: Readonly<Record<string, string>>;
  /** What an auth interceptor established about the client, if any. */
  principal: unknown;
  /** When the resource's connection went away (ms since epoch), or 0 while connected. */
  awaySince = 0;
  /** When the client last sent something (ms since epoch). */
  lastInboundAt = Date.now();
  /** The last connecting request. */
  request: ProtocolRequest;
  settings: Readonly<ConnectionSettings>;
  /** @internal When the ticker last saw a write (or the connection attached), ms since epoch. */
  lastWriteAt = Date.now();
  /** @internal Since when something has waited for the client while its socket sent nothing (0: not stalled). */
  stalledSince = 0;
  /** @internal The connection's `sent` count when the ticker last looked. */
  sentMark = 0;
  #state: ResourceState = 'away';
  #transport: TransportName;
  #connection: Connection | undefined;
  #attributes: Map<string, unknown> | undefined;
  /** Nearly every resource has one broadcaster: it is kept here, and a Set is made for a second one. */
  #subscriptions: Subscription | Set<Subscription> | undefined;
  #listeners: { [K in keyof ResourceEvents]?: Listener<ResourceEvents[K]>[] } | undefined;
  readonly #queue: ClientQueue;
  readonly #host: ResourceHost;
  /** The yes/no state (`LOST_SINCE_HANDSHAKE`, …): one small integer instead of a field each. */
  #flags = 0;
  /** Cursors the client presented on its last connection, not yet resumed, by stream. */
  #cursors: Map<string, StreamPosition> | undefined;
  /** Resumes from the log still reading (an asynchronous store): nothing is written meanwhile. */
  #holds = 0;
  /** The first and the last position of each stream handed to this client since it asked for positions. */
  #handed: Map<string, Handed> | undefined;

  constructor(
    request: ProtocolRequest,
    params: Readonly<Record<string, string>>,
    settings: Readonly<ConnectionSettings>,
    queue: ClientQueue,
    host: ResourceHost,
  ) {
    this.id = request.trackingId;
    this.path = request.path;
    // A frozen object (what the router hands over, shared by every client of the path) is kept as it is.
    this.params = !hasKeys(params)
      ? NO_PARAMS
      : Object.isFrozen(params)
        ? params
        : Object.freeze({ ...params });
    this.request = request;
    this.settings = settings;
    this.#transport = request.transport === 'close' ? 'long-polling' : request.transport;
    this.#queue = queue;
    this.#host = host;
  }

  get state(): ResourceState {
    return this.#state;
  }

  /**
   * @internal The last connection dropped (`lost`) and no handshake has been answered since: a long-polling
   * atmosphere.js 5 client that comes back reset its protocol state and reads a handshake first.
   */
  get lostSinceHandshake(): boolean {
    return (this.#flags & LOST_SINCE_HANDSHAKE) !== 0;
  }

  set lostSinceHandshake(value: boolean) {
    this.#flag(LOST_SINCE_HANDSHAKE, value);
  }

  /**
   * @internal The last connection was a WebSocket closed with a close frame without a code (1005): what
   * atmosphere.js 5's `close()` sends. Such a client gets a short grace period (`CLOSE_WITHOUT_CODE_GRACE_MS`):
   * it left, unless it comes back at once.
   */
  get closedWithoutCode(): boolean {
    return (this.#flags & CLOSED_WITHOUT_CODE) !== 0;
  }

  set closedWithoutCode(value: boolean) {
    this.#flag(CLOSED_WITHOUT_CODE, value);
  }

  /** @internal A message was written since the ticker last looked (it then counts the silence for heartbeats). */
  get wroteSinceCheck(): boolean {
    return (this.#flags & WROTE_SINCE_CHECK) !== 0;
  }

  set wroteSinceCheck(value: boolean) {
    this.#flag(WROTE_SINCE_CHECK, value);
  }

  /** @internal `onReady` ran: only then does it get an `onDisconnect`. */
  get ready(): boolean {
    return (this.#flags & READY) !== 0;
  }

  set ready(value: boolean) {
    this.#flag(READY, value);
  }

  #flag(bit: number, value: boolean): void {
    this.#flags = value ? this.#flags | bit : this.#flags & ~bit;
  }

  /** The transport of the current (or last) connection. */
  get transport(): TransportName {
    return this.#transport;
  }

  /** The current connection, while connected. */
  get connection(): Connection | undefined {
    return this.#connection;
  }

  /** Application data: anything the handler wants to keep with this client. Created on first use. */
  get attributes(): Map<string, unknown> {
    return (this.#attributes ??= new Map());
  }

  /** The broadcasters this resource is subscribed to (a snapshot when there is only one). */
  get subscriptions(): ReadonlySet<Subscription> {
    const subscriptions = this.#subscriptions;
    if (subscriptions === undefined) return EMPTY_SET;
    return subscriptions instanceof Set ? subscriptions : new Set([subscriptions]);
  }

  /**
   * True when the client reports how many messages it received (`X-Atmosphere-Received`) on its current
   * connection: written messages are then kept until it confirms them, and replayed exactly if it comes
   * back without them. Clients that do not (atmosphere.js, wAsync) get the classic rule: written counts as
   * delivered.
   */
  get reportsReceived(): boolean {
    return this.#queue.retainWritten;
  }

  /** @internal The resource's message queue (pending and unconfirmed messages). */
  get queue(): ClientQueue {
    return this.#queue;
  }

  get pending(): number {
    return this.#queue.pending.length;
  }

  on<K extends keyof ResourceEvents>(event: K, listener: Listener<ResourceEvents[K]>): this {
    const listeners = (this.#listeners ??= {});
    (listeners[event] ??= [] as never[]).push(listener as never);
    return this;
  }

  off<K extends keyof ResourceEvents>(event: K, listener: Listener<ResourceEvents[K]>): this {
    const list = this.#listeners?.[event];
    if (list) {
      const index = list.indexOf(listener);
      if (index !== -1) list.splice(index, 1);
    }
    return this;
  }

  #emit<K extends keyof ResourceEvents>(event: K, ...args: ResourceEvents[K]): void {
    const list = this.#listeners?.[event];
    if (!list) return;
    for (const listener of [...list]) {
      try {
        (listener as Listener<ResourceEvents[K]>)(...args);
      } catch (error) {
        this.#host.logger.error(`resource ${this.id}: a '${event}' listener threw`, { error });
      }
    }
  }

  /**
   * Writes a message to this client alone. Strings and bytes go as they are; anything else is sent as JSON.
   * The message is queued like a broadcast: it survives a cut connection and is replayed on reconnect.
   * Messages equal to the padding char or only whitespace are dropped (no client would show them).
   */
  write(message: unknown): void {
    if (this.#state === 'closed') {
      throw new AtmosphereError('CLOSED', `Resource ${this.id} is closed; it can no longer be written to.`);
    }
    this.deliver(toEncoded(message));
  }

  /** @internal Hot path: queue (or write at once) one prepared message. */
  deliver(message: EncodedMessage): void {
    if (this.#state === 'closed') return;
    const hooks = this.#host.outbound;
    if (hooks.length !== 0) {
      for (const hook of hooks) {
        const next = hook(message, this);
        if (next === undefined) return;
        message = next;
      }
    }
    if (message.invisible) return;
    const position = message.position;
    if ((this.#flags & POSITIONS) !== 0 && position !== undefined && message.source !== undefined) {
      const handed = (this.#handed ??= new Map<string, Handed>()).get(message.source);
      if (handed === undefined) this.#handed.set(message.source, { first: position, last: position });
      else {
        // Handed already — replayed from the log, or a relay that reached this node late: once is enough.
        if (handed.last.epoch === position.epoch && position.seq <= handed.last.seq) return;
        handed.last = position;
      }
    }
    const queue = this.#queue;
    const connection = this.#connection;
    if (connection !== undefined) {
      if (queue.pending.length === 0 && this.#holds === 0 && connection.writable) {
        connection.write((this.#flags & POSITIONS) !== 0 ? message.positioned() : message);
        this.#flags |= WROTE_SINCE_CHECK;
        queue.recordWritten(message);
        return;
      }
      if (
        queue.pending.length >= this.settings.highWaterMark + queue.replayCount ||
        queue.pendingBytes + message.size + connection.buffered >
          this.settings.maxPendingBytes + queue.replayAllowance
      ) {
        const policy = this.settings.backpressurePolicy;
        if (this.#host.telemetry.metricsOn) this.#host.telemetry.backpressure(policy);
        // A client with positions is told of every gap: a reset frame of the stream, before its next
        // message, names the first position dropped (one frame per run of drops; frames are never dropped).
        const signal = (this.#flags & POSITIONS) !== 0;
        if (policy === 'drop-newest') {
          queue.dropNewest(message, signal);
          this.#emit('drop', policy);
          return;
        }
        if (policy === 'drop-oldest') {
          let more = queue.dropOldest(signal);
          while (more && queue.pendingBytes + message.size > this.settings.maxPendingBytes)
            more = queue.dropOldest(signal);
          this.#emit('drop', policy);
        } else {
          this.cut(
            `${queue.pending.length} messages (${queue.pendingBytes + connection.buffered} bytes) waiting`,
            'Too many pending messages',
          );
          this.#emit('drop', policy);
          // Away now: the server-wide away cap may have ended it (or a listener closed it).
          if ((this.#state as ResourceState) === 'closed') return;
        }
      }
    }
    // The per-client cache limit is for a client that is away (the missed-message cache): what waits for a
    // connected one is bounded by the backpressure above, whose policy says what happens past it. Applied to a
    // connected client, the limit dropped the oldest pending message without a word — after a resume, a
    // replayed one not yet written (a replay larger than the limit that the socket could not take at once),
    // while the client read on past the hole. While a resume reads the log it drops nothing either: the
    // oldest pending messages may be newer than what the read will return (an asynchronous store answers the
    // read after the appends of messages broadcast meanwhile), and the replay goes before them — one dropped
    // would be a silent hole. The resume drops those its replay carries.
    queue.enqueue(message, this.#connection === undefined && this.#holds === 0);
  }

  /**
   * @internal Cuts a client that does not keep up (the byte or message bound, or no progress for
   * `maxStallMs`): its connection is ended with 1013 and the resource is away — what it missed waits in its
   * queue, within the cache limits, for it to reconnect. Cut loose at once: it would not read a close frame.
   */
  cut(why: string, reason: string): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    // Throttled: a flood of stalled clients costs a count, not a line each.
    this.#host.warnings.warn(`cut: ${reason}`, `resource ${this.id}: ${why}; disconnecting the slow client`);
    connection.bind(undefined);
    this.#connectionEnded(connection, 'server-closed');
    connection.end(1013, reason);
  }

  #writeNext(connection: Connection): void {
    const message = this.#queue.next();
    if (message !== undefined) {
      this.#flags |= WROTE_SINCE_CHECK;
      connection.write((this.#flags & POSITIONS) !== 0 ? message.positioned() : message);
    }
  }

  /** Writes pending messages while the connection takes them: several as one run of the connection. */
  flush(): void {
    const connection = this.#connection;
    if (connection === undefined || this.#holds > 0) return;
    const queue = this.#queue;
    const run = queue.pending.length > 1 && connection.startRun !== undefined;
    if (run) connection.startRun!();
    try {
      while (queue.pending.length > 0 && connection.writable && this.#connection === connection) {
        this.#writeNext(connection);
      }
    } finally {
      if (run) connection.endRun!();
    }
  }

  /**
   * @internal Attaches a new transport connection. A previous one is ended (a newer connection with the
   * same tracking id replaces a stale one). `received` is the client's count of messages it got, when it
   * sent one: unconfirmed messages after it are written again first.
   */
  attach(connection: Connection, request: ProtocolRequest, settings: Readonly<ConnectionSettings>): void {
    if (this.#state === 'closed') throw new AtmosphereError('CLOSED', `Resource ${this.id} is closed.`);
    const previous = this.#connection;
    if (previous !== undefined) {
      previous.bind(undefined);
      previous.end(1000, 'Replaced by a newer connection');
    }
    const wasAway = this.#state === 'away' && this.awaySince !== 0;
    if (this.#queue.away) this.#host.resourceReturned(this);
    this.request = request;
    this.settings = settings;
    this.#transport = connection.transport;
    this.#connection = connection;
    this.#state = 'connected';
    this.lastInboundAt = Date.now();
    this.lastWriteAt = this.lastInboundAt;
    this.wroteSinceCheck = false;
    this.stalledSince = 0;
    this.#flag(POSITIONS, request.positions);
    // Reset frames wait for a client with positions; one back without them would read them as messages.
    if (!request.positions) this.#queue.dropControls();
    const cursors = request.cursors;
    this.#cursors =
      cursors === undefined || cursors.length === 0
        ? undefined
        : new Map(cursors.map((cursor) => [cursor.stream, { epoch: cursor.epoch, seq: cursor.seq }]));
    // A client re-attaching to an AI run gets the run's frames from the run itself (`X-Atmosphere-Last-Seq`):
    // its path's stream, which carries those frames too, is not resumed a second time.
    if (request.runId !== undefined) this.#cursors?.delete(this.path);
    // Only a client that reports its count can be given a message again: keep written messages for it alone.
    this.#queue.retainWritten = request.received !== undefined;
    const resent = this.#queue.rewind(request.received);
    // What waits for the client now is its backlog: it may catch up on all of it (see the byte bound).
    this.#queue.replayAllowance = this.#queue.pendingBytes;
    this.#queue.replayCount = this.#queue.pending.length;
    if (resent > 0) {
      this.#host.logger.debug(`resource ${this.id}: resending ${resent} unconfirmed message(s)`);
      const telemetry = this.#host.telemetry;
      if (telemetry.metricsOn) telemetry.replayed.add(resent);
      if (telemetry.tracingOn)
        telemetry.tracing
          .startSpan('atmosphere.replay', {
            'atmosphere.resource.uuid': this.id,
            'atmosphere.transport': connection.transport,
            'atmosphere.action': 'replay',
            'atmosphere.replay.count': resent,
          })
          .end();
    }
    connection.bind(this);
    this.awaySince = 0;
    this.lostSinceHandshake = false;
    this.closedWithoutCode = false;
    if (wasAway && connection.transport !== 'long-polling' && connection.transport !== 'polling')
      this.#emit('reconnect');
  }

  /** True when the client asked for stream positions on its current connection. */
  get positions(): boolean {
    return (this.#flags & POSITIONS) !== 0;
  }

  /**
   * @internal The cursor the client presented for `stream` on its current connection, once: the caller
   * resumes the stream from it (`resumeStream`).
   */
  takeCursor(stream: string): StreamPosition | undefined {
    const cursor = this.#cursors?.get(stream);
    if (cursor !== undefined) this.#cursors!.delete(stream);
    return cursor;
  }

  /**
   * @internal The position of the first message of `stream` handed to this client (queued or written)
   * since it asked for positions: from there on, its queue knows everything it was sent of the stream.
   */
  firstDelivered(stream: string): StreamPosition | undefined {
    return this.#handed?.get(stream)?.first;
  }

  /**
   * @internal A resume from the log handed this client `stream` up to `through`: a message at or before it
   * that reaches the resource later (a relay late for its node) is not handed again.
   */
  handedThrough(stream: string, through: StreamPosition): void {
    const handed = (this.#handed ??= new Map<string, Handed>()).get(stream);
    // The replay went into the queue ahead of what it held: the queue knows the stream from after it on.
    if (handed === undefined)
      this.#handed.set(stream, { first: { epoch: through.epoch, seq: through.seq + 1 }, last: through });
    else if (handed.last.epoch !== through.epoch || handed.last.seq < through.seq) handed.last = through;
  }

  /**
   * @internal Holds every write until `release()`: a resume is reading the log. Messages queued meanwhile are
   * not dropped by the per-client cache limit (the resume places its replay before them).
   */
  hold(): void {
    this.#holds++;
  }

  /** @internal Ends a `hold()`; the queue is written once no hold is left. */
  release(): void {
    if (this.#holds > 0 && --this.#holds === 0) this.flush();
  }

  /**
   * @internal A resume from the log (`ClientQueue.splice`): `before` (a reset frame), the pending messages
   * `classify` pulls, then `after` (the replayed messages, through the outbound interceptors) go before
   * everything pending; the pending messages it drops leave the queue.
   */
  resumeWith(
    classify: (message: EncodedMessage) => Placement,
    before: readonly EncodedMessage[],
    after: readonly EncodedMessage[],
  ): void {
    if (this.#state === 'closed') return;
    const ready: EncodedMessage[] = [];
    const hooks = this.#host.outbound;
    for (let message of after) {
      if (hooks.length !== 0 && !message.control) {
        let next: EncodedMessage | undefined = message;
        for (const hook of hooks) {
          next = hook(next, this);
          if (next === undefined) break;
        }
        if (next === undefined) continue;
        message = next;
      }
      if (!message.invisible) ready.push(message);
    }
    const queue = this.#queue;
    queue.splice(classify, before, ready);
    queue.replayAllowance = queue.pendingBytes;
    queue.replayCount = queue.pending.length;
    // A resume may come long after the connection attached (a room joined later): write what it queued.
    this.flush();
  }

  /** @internal The runtime's instruments (the resume path counts its replays and resets there). */
  get telemetry(): RuntimeTelemetry {
    return this.#host.telemetry;
  }

  /**
   * @internal The client has its tracking id but no connection yet (a long-polling handshake answers the
   * first poll without attaching it): its grace period starts now, so a client that never polls again is
   * not kept forever.
   */
  awaitConnection(): void {
    this.lostSinceHandshake = false;
    if (this.#state === 'away' && this.awaySince === 0) {
      this.awaySince = Date.now();
      this.#host.resourceAway(this);
    }
  }

  /** @internal */
  connectionDrained(connection: Connection): void {
    if (connection === this.#connection) this.flush();
  }

  /** @internal */
  connectionEnded(connection: Connection, how: ConnectionEnd): void {
    this.#connectionEnded(connection, how);
  }

  /** @internal */
  connectionMessage(connection: Connection, message: string | Uint8Array): void {
    if (connection === this.#connection) this.#host.inbound(this, message);
  }

  /** @internal */
  connectionConfirmed(connection: Connection, seq: number): void {
    // A late pong of a replaced connection must not confirm what was written again since.
    if (connection === this.#connection) this.#queue.confirm(seq);
  }

  #connectionEnded(connection: Connection, how: ConnectionEnd): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    if (this.#state === 'closed') return;
    if (how === 'client-closed') {
      this.#close('client-closed');
      return;
    }
    if (how === 'violated') {
      this.#close('server-closed');
      return;
    }
    this.#state = 'away';
    this.awaySince = Date.now();
    // Away, the client's queue keeps what the missed-message cache allows (connected, backpressure bounded it);
    // while a resume reads the log nothing is dropped (see `deliver`): the next capped enqueue trims then.
    if (this.#holds === 0) this.#queue.trim();
    if (how === 'lost') {
      this.lostSinceHandshake = true;
      this.closedWithoutCode =
        connection.transport === 'websocket' && (connection as { closeCode?: number }).closeCode === 1005;
      this.#emit('away');
    }
    // A completed poll is a long-polling client between two polls: it is back at once, and not capped.
    if (how !== 'completed' && this.#state === 'away') this.#host.resourceAway(this);
  }

  /**
   * @internal Closes for good with `reason` (grace period over, the close request, idle, shutdown); an open
   * connection is ended with `code`.
   */
  expire(reason: DisconnectReason, code = 1000, text: string = reason): void {
    this.#close(reason, code, text);
  }

  /** @internal */
  addSubscription(subscription: Subscription): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions instanceof Set) subscriptions.add(subscription);
    else if (subscriptions === undefined || subscriptions === subscription)
      this.#subscriptions = subscription;
    else this.#subscriptions = new Set([subscriptions, subscription]);
  }

  /** @internal */
  removeSubscription(subscription: Subscription): void {
    const subscriptions = this.#subscriptions;
    if (subscriptions === subscription) this.#subscriptions = undefined;
    else if (subscriptions instanceof Set) subscriptions.delete(subscription);
  }

  /**
   * Closes the client for good: ends its connection (WebSocket code 1000), unsubscribes it everywhere and
   * fires `disconnect` with reason `server-closed`. Idempotent.
   */
  async close(code = 1000, reason = 'Closed by the server'): Promise<void> {
    this.#close('server-closed', code, reason);
  }

  #close(reason: DisconnectReason, code = 1000, text: string = reason): void {
    if (this.#state === 'closed') return;
    const connection = this.#connection;
    this.#state = 'closed';
    this.#connection = undefined;
    if (connection) {
      connection.bind(undefined);
      if (connection.open) connection.end(code, text);
    }
    for (const subscription of [...this.subscriptions]) subscription.removeResource(this);
    this.#subscriptions = undefined;
    this.#host.resourceClosed(this, reason);
    this.#emit('disconnect', reason);
    this.#listeners = undefined;
  }
}

const EMPTY_SET: ReadonlySet<Subscription> = new Set();
/** Bits of a resource's flags. */
const LOST_SINCE_HANDSHAKE = 1;
const CLOSED_WITHOUT_CODE = 2;
const WROTE_SINCE_CHECK = 4;
const READY = 8;
/** The client asked for stream positions on its current connection (`X-Atmosphere-Positions`). */
const POSITIONS = 16;

/** The first and the last position of a stream handed to a client. */
interface Handed {
  readonly first: StreamPosition;
  last: StreamPosition;
}
/** Paths without parameters (the common case) share one frozen empty object. */
const NO_PARAMS: Readonly<Record<string, string>> = Object.freeze({});

function hasKeys(record: Readonly<Record<string, string>>): boolean {
  for (const _ in record) return true;
  return false;
}
