import {
  AtmosphereError,
  type AtmosphereResource,
  type Broadcaster,
  type BroadcastOptions,
  type Logger,
} from '@atmosphere/runtime';
import {
  atmosphereJsJoinFrame,
  atmosphereJsMembersJson,
  atmosphereJsMessageFrame,
  atmosphereJsPresenceFrame,
  joinAckFrame,
  membersJson,
  presenceFrame,
  roomErrorFrame,
} from '@atmosphere/protocol';
import { messageHead, roomMessageFrame, withMessageId } from './frames.ts';
import {
  type HistoryEntry,
  historyAfter,
  type LoadedHistory,
  type LogHistory,
  parseMessageFrame,
  replayGap,
  RoomHistory,
} from './history.ts';
import { asError } from './errors.ts';
import { OrderedQueue } from './ordered-queue.ts';
import type { RoomClusterView } from './room-cluster.ts';
import type { LeaveReason, PresenceEvent, PresenceListener, RoomMember, RoomMessage } from './types.ts';
import type { VirtualContext } from './virtual-context.ts';

/** @internal A member of a room, as the room keeps it. */
export interface MemberState {
  readonly member: RoomMember;
  readonly connections: Set<AtmosphereResource>;
  readonly joinedAt: number;
  /** Set for a virtual member. */
  context: VirtualContext | undefined;
  /** Its presence `join` went out (and no `leave` since): it is in the `join_ack` lists. */
  announced: boolean;
}

/** @internal Resolves (or rejects) an API call once its operation ran and its frame landed. */
export interface Settle {
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * @internal A message serialised once. With history on, it gets its id when its operation runs (in room
 * order, once the history is loaded): the id is spliced into the frame then, no second serialisation.
 */
export interface PreparedMessage {
  payload: string;
  message: RoomMessage;
}

/** @internal What a room does, in room order. */
export type DeliveryOp =
  | {
      readonly kind: 'send';
      /** The frame for connections; undefined when only a virtual member receives it. */
      readonly payload: string | undefined;
      /** To every subscriber but `exclude` (a connection id), or only to `target`. */
      readonly exclude: string | undefined;
      readonly target: MemberState | undefined;
      /**
       * A broadcast message: numbered and recorded in history when the operation runs (not when submitted: see
       * `#subscribe`); `payload` is then its frame.
       */
      readonly prepared: PreparedMessage | undefined;
      /** Shown to virtual members: the target, or all but `skip`. */
      readonly message: RoomMessage | undefined;
      readonly skip: string | undefined;
      readonly done: Settle | undefined;
    }
  | {
      readonly kind: 'subscribe';
      readonly resource: AtmosphereResource;
      readonly state: MemberState;
      readonly sinceId: number | undefined;
    }
  | {
      readonly kind: 'presence';
      readonly action: 'join' | 'leave';
      readonly state: MemberState;
      readonly reason: LeaveReason;
    }
  | { readonly kind: 'task'; readonly run: () => void };

/** @internal The room's view that delivery needs. */
export interface DeliveryOwner {
  readonly name: string;
  readonly logger: Logger;
  readonly broadcaster: Broadcaster;
  /** The broadcaster of the atmosphere.js 5 dialect, once a connection that speaks it has joined. */
  jsBroadcaster(): Broadcaster | undefined;
  /** That broadcaster, created when absent. */
  openJsBroadcaster(): Broadcaster;
  /** Whether a connection speaks the atmosphere.js 5 dialect. */
  speaksAtmosphereJs(resource: AtmosphereResource): boolean;
  /** Current members by id. */
  readonly members: ReadonlyMap<string, MemberState>;
  /** Current virtual members. */
  readonly virtuals: ReadonlySet<MemberState>;
  /** The connection currently in the room under this id. */
  connection(id: string): { resource: AtmosphereResource; state: MemberState } | undefined;
  listeners(): readonly PresenceListener[];
}

/**
 * @internal Puts a room's frames on the wire in one order: runs operations through an {@link OrderedQueue},
 * hands frames to the room's broadcaster, records history, announces presence, calls virtual members. Holds a
 * join back while broadcasts are in flight (only possible with asynchronous filters), so the joiner gets every
 * message exactly once: either in its replay or live.
 */
export class RoomDelivery {
  #history: RoomHistory | undefined;
  /** Where history is kept beyond the process (a durable stream log), if anywhere. */
  readonly #store: LogHistory | undefined;
  /** History being read back from the store: every operation waits. */
  #loading = 0;
  /** The room's view of the cluster, when the cluster state is shared (see room-cluster.ts). */
  cluster: RoomClusterView | undefined;
  #lastId = 0;
  #inflight = 0;
  /** The most messages a join's `sinceId` replay sends (see `maxReplay` of the rooms' options). */
  readonly #maxReplay: number;
  readonly #owner: DeliveryOwner;
  readonly #announced = new Map<string, RoomMember>();
  #ackMembers: string | undefined;
  #ackMembersJs: string | undefined;
  readonly #queue: OrderedQueue<DeliveryOp>;
  readonly #settled = (): void => {
    if (--this.#inflight === 0) this.#queue.resume();
  };
  readonly #failed = (error: unknown): void => {
    this.#owner.logger.error(`room ${this.#owner.name}: a broadcast failed`, { error });
    this.#settled();
  };

  readonly #syncFailed = (error: unknown): void => {
    this.#owner.logger.error(`room ${this.#owner.name}: a broadcast failed`, { error });
  };

  constructor(
    owner: DeliveryOwner,
    historyCapacity: number,
    store?: LogHistory,
    maxReplay = DEFAULT_MAX_REPLAY,
  ) {
    this.#owner = owner;
    this.#store = store;
    this.#maxReplay = maxReplay;
    this.#queue = new OrderedQueue<DeliveryOp>(
      (op) => this.#run(op),
      // Nothing runs while history is read back, nor before the room's cluster view is loaded (a join_ack
      // must list the remote members).
      (op) =>
        this.#loading > 0 ||
        (this.cluster !== undefined && !this.cluster.ready) ||
        (op.kind === 'subscribe' && this.#inflight > 0),
    );
    if (historyCapacity > 0) this.history = new RoomHistory(historyCapacity);
  }

  get history(): RoomHistory | undefined {
    return this.#history;
  }

  /**
   * Turns history on (a ring), resizes it, or off (undefined). With a durable store, turning it on reads the
   * newest messages back and numbers on after the last id ever given; turning it off forgets the stored history.
   */
  set history(history: RoomHistory | undefined) {
    const was = this.#history;
    this.#history = history;
    const store = this.#store;
    if (store === undefined) return;
    if (history === undefined) {
      if (was !== undefined) void this.#settleStore(() => store.delete(), 'forgetting its history');
      return;
    }
    if (was === undefined) this.#load(store, history.capacity);
  }

  /** Drops the history from memory (the room is destroyed); what a durable store keeps stays there. */
  dropHistory(): void {
    this.#history = undefined;
  }

  /** Reads the stored history back; operations wait meanwhile (not at all when the store answers at once). */
  #load(store: LogHistory, capacity: number): void {
    this.#loading++;
    const loaded = (result: LoadedHistory): void => {
      const history = this.#history;
      // Messages relayed from other nodes while the read was under way are in memory already: merged by id.
      if (history !== undefined) history.merge(result.entries);
      this.#lastId = Math.max(this.#lastId, result.lastId);
      this.#loading--;
      this.#queue.resume();
    };
    const failed = (error: unknown): void => {
      this.#owner.logger.error(
        `room ${this.#owner.name}: reading its history from the stream log (${store.stream}) failed; it starts empty and numbers on from ${this.#lastId}`,
        { error },
      );
      this.#loading--;
      this.#queue.resume();
    };
    try {
      const result = store.load(capacity);
      if (result instanceof Promise) result.then(loaded, failed);
      else loaded(result);
    } catch (error) {
      failed(error);
    }
  }

  /**
   * Runs a store call; a failure is logged, not thrown (the message itself was delivered: history is what
   * a later join replays). Returns the call's promise, settled either way, when it is asynchronous.
   */
  #settleStore(call: () => unknown, what: string): Promise<void> | undefined {
    const failed = (error: unknown): void =>
      this.#owner.logger.error(
        `room ${this.#owner.name}: ${what} in the stream log (${this.#store?.stream}) failed`,
        { error },
      );
    try {
      const result = call();
      if (result instanceof Promise) return result.then(() => undefined, failed);
    } catch (error) {
      failed(error);
    }
    return undefined;
  }

  submit(op: DeliveryOp): void {
    this.#queue.submit(op);
  }

  /** Runs what waits, unless blocked (the cluster view just loaded). */
  resume(): void {
    this.#queue.resume();
  }

  /** The `join_ack` member list changed (a member on another node). */
  membersChanged(): void {
    this.#ackMembers = undefined;
    this.#ackMembersJs = undefined;
  }

  /** Announces, to this node only, a member that arrived on or left from another node. */
  remotePresence(member: RoomMember, virtual: boolean, leave: LeaveReason | undefined): void {
    const room = this.#owner.name;
    this.#announce(
      leave === undefined
        ? { room, action: 'join', member, virtual }
        : { room, action: 'leave', member, virtual, reason: leave },
      undefined,
      undefined,
    );
  }

  /** A message said on another node: to this node's virtual members but its sender. */
  remoteMessage(message: RoomMessage): void {
    if (this.#owner.virtuals.size === 0) return;
    for (const state of [...this.#owner.virtuals])
      if (state.member.id !== message.from) state.context?.deliver(message);
  }

  /** Drops what is queued (the room is closing); returns it. */
  drain(): DeliveryOp[] {
    return this.#queue.drain();
  }

  /**
   * Serialises a message once (throws `BAD_REQUEST` for data JSON cannot carry). Its history id, when history
   * is on, is given when it runs (ids grow by one and are never reused).
   */
  prepare(from: string | undefined, data: unknown): PreparedMessage {
    const payload = roomMessageFrame(this.#owner.name, undefined, from, data);
    return { payload, message: roomMessage(this.#owner.name, undefined, from, data) };
  }

  /** Queues a prepared message for everyone but the `exclude` connection (and the virtual sender). */
  submitMessage(prepared: PreparedMessage, exclude: string | undefined, done: Settle | undefined): void {
    this.submit({
      kind: 'send',
      payload: undefined,
      exclude,
      target: undefined,
      prepared,
      message: undefined,
      skip: prepared.message.from,
      done,
    });
  }

  /**
   * Gives a message its history id (in the frame too) and records it, in memory and in the store; returns the
   * store's write when it is asynchronous (the broadcast settles once it is done).
   */
  #number(prepared: PreparedMessage, history: RoomHistory): Promise<void> | undefined {
    const id = ++this.#lastId;
    const entry = this.#identify(prepared, id);
    history.push(entry);
    const store = this.#store;
    return store === undefined
      ? undefined
      : this.#settleStore(() => store.append(entry.payload), `keeping message ${id}`);
  }

  /** Gives a prepared message its id, in its frame too; returns its history entry. */
  #identify(prepared: PreparedMessage, id: number): HistoryEntry {
    prepared.payload = withMessageId(this.#owner.name, prepared.payload, id);
    prepared.message = { ...prepared.message, id };
    return { id, payload: prepared.payload, message: prepared.message };
  }

  /**
   * A broadcast message of a room whose history is on a log the cluster shares: it is kept in the log first,
   * and its id is the seq the log gave it, so ids are the same on every node and never collide. The room's
   * operations wait meanwhile (the next message is numbered after it, a join replays it or gets it live). A
   * message the log refuses is not sent: its sender is told (`LOG_FAILED`).
   */
  #sendNumbered(
    op: Extract<DeliveryOp, { kind: 'send' }>,
    prepared: PreparedMessage,
    history: RoomHistory,
    store: LogHistory,
  ): void {
    this.#loading++;
    let numbered: Promise<number>;
    try {
      numbered = store.numbered(prepared.payload);
    } catch (error) {
      numbered = Promise.reject(asError(error));
    }
    numbered
      .then(
        (id) => {
          try {
            const entry = this.#identify(prepared, id);
            if (!history.insert(entry)) this.#historyLost(store, entry);
            this.#settle(op.done, this.#broadcastPrepared(op, prepared));
          } catch (error) {
            this.#owner.logger.error(`room ${this.#owner.name}: a send operation failed`, { error });
            op.done?.reject(error);
          }
        },
        (error: unknown) => {
          const refused = new AtmosphereError(
            'LOG_FAILED',
            `Room ${this.#owner.name}: the stream log (${store.stream}) could not keep the message, so it was not sent: ${asError(error).message}`,
            { cause: error },
          );
          this.#owner.logger.error(refused.message, { error });
          op.done?.reject(refused);
        },
      )
      .finally(() => {
        this.#loading--;
        this.#queue.resume();
      });
  }

  /**
   * The shared log gave an id this room had given already: it lost the room's history (a Redis that restarted
   * without its data). Ids start again from its new sequence; what memory kept under the old ones is dropped,
   * and the loss is logged (clients that remember the old ids are told by the reset of the room's stream, which
   * the same log lost).
   */
  #historyLost(store: LogHistory, entry: HistoryEntry): void {
    this.#owner.logger.error(
      `room ${this.#owner.name}: the stream log (${store.stream}) gave id ${entry.id} again: it lost the room's history, so ids start again; the history kept in memory is dropped`,
    );
    const history = this.#history;
    if (history === undefined) return;
    this.#history = new RoomHistory(history.capacity);
    this.#history.push(entry);
  }

  /**
   * A frame of this room said on another node (or read from the shared log to fill a gap), just before this
   * node's connections get it: a message joins the history when the cluster shares it, and the connections
   * speaking the atmosphere.js dialect get it in theirs (the other node only sends its own such connections).
   */
  relayed(payload: string | Uint8Array, targets: readonly string[] | undefined): void {
    if (typeof payload !== 'string' || targets !== undefined) return;
    const history = this.#store?.shared === true ? this.#history : undefined;
    const js = this.#jsAudience();
    if (history === undefined && js === undefined) return;
    const entry = payload.startsWith(messageHead(this.#owner.name))
      ? parseMessageFrame(this.#owner.name, payload)
      : undefined;
    const id = entry?.id;
    if (history !== undefined && entry !== undefined && id !== undefined)
      history.insert({ id, payload, message: entry.message });
    if (js !== undefined) void this.#dispatch(jsFrame(payload, entry?.message), undefined, js);
  }

  /** The room's announced members (those in `join_ack` lists). */
  get announced(): ReadonlyMap<string, RoomMember> {
    return this.#announced;
  }

  #run(op: DeliveryOp): void {
    try {
      switch (op.kind) {
        case 'send':
          this.#send(op);
          return;
        case 'subscribe':
          this.#subscribe(op.resource, op.state, op.sinceId);
          return;
        case 'presence':
          this.#presence(op.action, op.state, op.reason);
          return;
        case 'task':
          op.run();
          return;
      }
    } catch (error) {
      this.#owner.logger.error(`room ${this.#owner.name}: a ${op.kind} operation failed`, { error });
      if (op.kind === 'send') op.done?.reject(error);
    }
  }

  #send(op: Extract<DeliveryOp, { kind: 'send' }>): void {
    const owner = this.#owner;
    let delivered: Promise<void> | undefined;
    const target = op.target;
    if (target !== undefined) {
      if (owner.members.get(target.member.id) === target) {
        if (target.context !== undefined) {
          if (op.message !== undefined) target.context.deliver(op.message);
        } else if (op.payload !== undefined && target.connections.size > 0) {
          delivered = this.#sendTo(target, op.payload, op.message);
        }
      }
    } else {
      const prepared = op.prepared;
      const history = this.#history;
      const store = this.#store;
      if (prepared !== undefined && history !== undefined && store?.shared === true) {
        this.#sendNumbered(op, prepared, history, store);
        return;
      }
      const stored =
        prepared !== undefined && history !== undefined ? this.#number(prepared, history) : undefined;
      delivered = this.#broadcastPrepared(op, prepared);
      if (stored !== undefined)
        delivered = delivered === undefined ? stored : Promise.all([delivered, stored]).then(() => undefined);
    }
    this.#settle(op.done, delivered);
  }

  /** Settles an operation's caller once its frames landed. */
  #settle(done: Settle | undefined, delivered: Promise<void> | undefined): void {
    if (done === undefined) return;
    if (delivered === undefined) done.resolve();
    else
      delivered.then(
        () => done.resolve(),
        (error: unknown) => done.reject(error),
      );
  }

  /** Sends a broadcast (a message, numbered already, or a frame) to the room, in both dialects. */
  #broadcastPrepared(
    op: Extract<DeliveryOp, { kind: 'send' }>,
    prepared: PreparedMessage | undefined,
  ): Promise<void> | undefined {
    const owner = this.#owner;
    let delivered: Promise<void> | undefined;
    const payload = prepared?.payload ?? op.payload;
    const message = prepared?.message ?? op.message;
    if (payload !== undefined) {
      const options = op.exclude === undefined ? undefined : { exclude: op.exclude };
      delivered = this.#dispatch(payload, options);
      const js = this.#jsAudience();
      if (js !== undefined) {
        const legacy = this.#dispatch(jsFrame(payload, message), options, js);
        delivered = Promise.all([delivered, legacy]).then(() => undefined);
      }
    }
    if (message !== undefined) this.cluster?.said(message);
    if (message !== undefined && owner.virtuals.size > 0) {
      for (const state of [...owner.virtuals])
        if (state.member.id !== op.skip) state.context?.deliver(message);
    }
    return delivered;
  }

  /** A frame to one member's connections, each in the dialect it speaks. */
  #sendTo(target: MemberState, payload: string, message: RoomMessage | undefined): Promise<void> {
    const owner = this.#owner;
    let ours: string[] | undefined;
    let theirs: string[] | undefined;
    for (const resource of target.connections) {
      if (owner.speaksAtmosphereJs(resource)) (theirs ??= []).push(resource.id);
      else (ours ??= []).push(resource.id);
    }
    const sent: Promise<void>[] = [];
    if (ours !== undefined) sent.push(this.#dispatch(payload, { to: ours }));
    if (theirs !== undefined)
      sent.push(this.#dispatch(jsFrame(payload, message), { to: theirs }, owner.openJsBroadcaster()));
    return sent.length === 1 ? sent[0]! : Promise.all(sent).then(() => undefined);
  }

  /** The atmosphere.js-dialect broadcaster when a connection of this node listens to it. */
  #jsAudience(): Broadcaster | undefined {
    const js = this.#owner.jsBroadcaster();
    return js !== undefined && js.size > 0 ? js : undefined;
  }

  /**
   * Subscribes a joining connection, then sends its ack and replay. Runs only when no broadcast of this room
   * is in flight (the queue holds it until then): every message sent before has been published, so it is
   * either in the replay (recorded before) or delivered live (run after) — never both, never neither. That is
   * also why history is recorded when a message runs, not when it is submitted.
   */
  #subscribe(resource: AtmosphereResource, state: MemberState, sinceId: number | undefined): void {
    const owner = this.#owner;
    const entry = owner.connection(resource.id);
    if (
      entry === undefined ||
      entry.resource !== resource ||
      entry.state !== state ||
      resource.state === 'closed'
    )
      return;
    const js = owner.speaksAtmosphereJs(resource) ? owner.openJsBroadcaster() : undefined;
    (js ?? owner.broadcaster).addResource(resource);
    const announce = !state.announced && owner.members.get(state.member.id) === state;
    if (announce) this.#setAnnounced(state, true);
    const toJoiner: BroadcastOptions = { to: resource.id };
    if (js === undefined) {
      void this.#dispatch(
        joinAckFrame(owner.name, (this.#ackMembers ??= membersJson(this.#ackList()))),
        toJoiner,
      );
    } else {
      void this.#dispatch(
        atmosphereJsJoinFrame(owner.name, (this.#ackMembersJs ??= atmosphereJsMembersJson(this.#ackList()))),
        toJoiner,
        js,
      );
    }
    const replay = (entries: readonly HistoryEntry[], sinceId: number): void => {
      const gap = replayGap(
        entries,
        sinceId,
        Math.max(this.#lastId, this.history?.lastId ?? 0),
        this.#maxReplay,
      );
      // What the joiner asked for and does not get is said, before what it gets: never a silent cut.
      if (gap !== undefined)
        void this.#dispatch(this.#gapFrame(gap.from, gap.resumeAt, gap.bounded), toJoiner, js);
      for (const replayed of entries)
        void this.#dispatch(
          js === undefined ? replayed.payload : jsFrame(replayed.payload, replayed.message),
          toJoiner,
          js,
        );
    };
    const announced = (): void => {
      if (announce && this.cluster?.heldElsewhere(state.member.id) !== true)
        this.#announce(
          { room: owner.name, action: 'join', member: state.member, virtual: false },
          state,
          resource.id,
        );
    };
    if (sinceId !== undefined && this.history !== undefined) {
      let entries: HistoryEntry[] | Promise<HistoryEntry[]>;
      try {
        // Older than memory keeps: read from the durable log (see historyAfter).
        entries = historyAfter(this.history, this.#store, sinceId, this.#maxReplay);
      } catch (error) {
        this.#historyReadFailed(error);
        entries = this.#recent(sinceId);
      }
      if (entries instanceof Promise) {
        // An asynchronous log: the room's operations wait for the read, so that nothing said meanwhile
        // reaches the joiner before its replay, nor is numbered in between.
        this.#loading++;
        void entries
          .catch((error: unknown) => {
            this.#historyReadFailed(error);
            return this.#recent(sinceId);
          })
          .then((read) => {
            replay(read, sinceId);
            announced();
          })
          .finally(() => {
            this.#loading--;
            this.#queue.resume();
          });
        return;
      }
      replay(entries, sinceId);
    }
    announced();
  }

  /** The newest of what memory keeps after `sinceId`, within the replay bound. */
  #recent(sinceId: number): HistoryEntry[] {
    const recent = this.history?.after(sinceId) ?? [];
    return recent.length > this.#maxReplay ? recent.slice(recent.length - this.#maxReplay) : recent;
  }

  /**
   * The `error` frame (`HISTORY_TRUNCATED`) a joiner gets before its replay when the replay leaves out messages
   * it asked for: ids `from` to `resumeAt - 1`.
   */
  #gapFrame(from: number, resumeAt: number, bounded: boolean): string {
    const which = from === resumeAt - 1 ? `message ${from} is` : `messages ${from} to ${resumeAt - 1} are`;
    const why = bounded
      ? `a join replays at most the newest ${this.#maxReplay} messages (option maxReplay)`
      : 'the room no longer keeps them';
    return roomErrorFrame(
      this.#owner.name,
      `History truncated: ${which} not replayed: ${why}.`,
      'HISTORY_TRUNCATED',
      {
        from,
        resumeAt,
      },
    );
  }

  #historyReadFailed(error: unknown): void {
    this.#owner.logger.error(
      `room ${this.#owner.name}: reading older history from the stream log (${this.#store?.stream}) failed; the joiner gets what memory keeps`,
      { error },
    );
  }

  #presence(action: 'join' | 'leave', state: MemberState, reason: LeaveReason): void {
    const room = this.#owner.name;
    if (action === 'join') {
      if (state.announced || this.#owner.members.get(state.member.id) !== state) return;
      this.#setAnnounced(state, true);
      if (this.cluster?.heldElsewhere(state.member.id) !== true)
        this.#announce(
          { room, action, member: state.member, virtual: state.context !== undefined },
          state,
          undefined,
        );
      state.context?.joined();
      return;
    }
    if (!state.announced) return;
    this.#setAnnounced(state, false);
    // Still in the room through another node: nobody sees it leave.
    if (this.cluster?.heldElsewhere(state.member.id) === true) return;
    this.#announce(
      { room, action, member: state.member, virtual: state.context !== undefined, reason },
      state,
      undefined,
    );
  }

  /** Who a `join_ack` lists: the members announced here, then those only other nodes hold. */
  #ackList(): Iterable<RoomMember> {
    const cluster = this.cluster;
    if (cluster === undefined) return this.#announced.values();
    return [...this.#announced.values(), ...cluster.remoteMembers()];
  }

  #setAnnounced(state: MemberState, announced: boolean): void {
    state.announced = announced;
    if (announced) {
      this.#announced.set(state.member.id, state.member);
      this.cluster?.announced(state.member, state.context !== undefined);
    } else if (this.#announced.get(state.member.id) === state.member) {
      this.#announced.delete(state.member.id);
      this.cluster?.withdrawn(state.member);
    }
    this.#ackMembers = undefined;
    this.#ackMembersJs = undefined;
  }

  #announce(event: PresenceEvent, subject: MemberState | undefined, exclude: string | undefined): void {
    const owner = this.#owner;
    if (this.cluster === undefined) {
      const options = exclude === undefined ? undefined : { exclude };
      void this.#dispatch(presenceFrame(owner.name, event.action, event.member), options);
      const js = this.#jsAudience();
      if (js !== undefined)
        void this.#dispatch(atmosphereJsPresenceFrame(owner.name, event.action, event.member), options, js);
    } else {
      // In a cluster every node announces presence to its own connections (from the shared membership), so
      // the frame goes to this node's subscribers only.
      const local = localAudience(owner.broadcaster, exclude);
      if (local !== undefined)
        void this.#dispatch(presenceFrame(owner.name, event.action, event.member), { to: local });
      const js = owner.jsBroadcaster();
      const localJs = js === undefined ? undefined : localAudience(js, exclude);
      if (localJs !== undefined)
        void this.#dispatch(
          atmosphereJsPresenceFrame(owner.name, event.action, event.member),
          { to: localJs },
          js,
        );
    }
    for (const listener of owner.listeners()) notify(owner, listener, event);
    if (owner.virtuals.size > 0)
      for (const state of [...owner.virtuals]) if (state !== subject) state.context?.presence(event);
  }

  /**
   * Hands one frame to the broadcaster. Without filters and with nothing in flight the broadcaster delivers
   * synchronously, so there is nothing to track; otherwise the room counts the broadcast until it lands, and
   * joins wait for the count to reach zero.
   */
  #dispatch(
    payload: string,
    options: BroadcastOptions | undefined,
    broadcaster: Broadcaster = this.#owner.broadcaster,
  ): Promise<void> {
    if (broadcaster.destroyed) {
      // Someone destroyed the room's broadcaster (shutdown): nothing can be delivered any more.
      return this.#refused(
        new AtmosphereError('CLOSED', `The broadcaster of room ${this.#owner.name} was destroyed.`),
      );
    }
    // Delivered before broadcast() returns only with no filter and a log that appends synchronously (memory):
    // a durable log (SQLite, Redis: the room has a store then) delivers once the append is written, so the
    // broadcast is in flight until then, and a join waits for it (else the joiner, subscribed meanwhile, would
    // get the message live and again in its replay).
    const sync = this.#inflight === 0 && broadcaster.filters.length === 0 && this.#store === undefined;
    let result: Promise<void>;
    try {
      result = broadcaster.broadcast(payload, options);
    } catch (error) {
      return this.#refused(error);
    }
    if (sync) {
      // Delivered already; only a throwing outbound interceptor could have rejected it.
      result.catch(this.#syncFailed);
    } else {
      this.#inflight++;
      result.then(this.#settled, this.#failed);
    }
    return result;
  }

  #refused(error: unknown): Promise<void> {
    this.#owner.logger.debug(`room ${this.#owner.name}: broadcast refused`, { error });
    const refused = Promise.reject(asError(error));
    refused.catch(() => undefined);
    return refused;
  }
}

/**
 * How many messages a join's `sinceId` replay sends at most, by default: half the runtime's default bound of
 * messages pending per client (`backpressure.highWaterMark`, 1 000), so a replay never cuts its joiner.
 */
export const DEFAULT_MAX_REPLAY = 500;

/**
 * A room frame in the atmosphere.js 5 dialect: a message becomes its `broadcast` (or `direct`) frame; anything
 * else (typing, AI frames, raw frames) is the same in both dialects.
 */
function jsFrame(payload: string, message: RoomMessage | undefined): string {
  if (message === undefined) return payload;
  return (
    atmosphereJsMessageFrame(
      message.room,
      message.id,
      message.from,
      message.data,
      message.to !== undefined,
    ) ?? payload
  );
}

/** The ids of a broadcaster's subscribers on this node but `exclude`; undefined when there are none. */
function localAudience(broadcaster: Broadcaster, exclude: string | undefined): string[] | undefined {
  let ids: string[] | undefined;
  for (const resource of broadcaster.resources()) if (resource.id !== exclude) (ids ??= []).push(resource.id);
  return ids;
}

/** Calls a presence listener; a throw is logged, not propagated. */
export function notify(
  owner: { readonly name: string; readonly logger: Logger },
  listener: PresenceListener,
  event: PresenceEvent,
): void {
  try {
    listener(event);
  } catch (error) {
    owner.logger.error(`room ${owner.name}: a presence listener threw`, { error });
  }
}

function roomMessage(
  room: string,
  id: number | undefined,
  from: string | undefined,
  data: unknown,
  to?: string,
): RoomMessage {
  const message: { room: string; id?: number; from?: string; data: unknown; to?: string } = { room, data };
  if (id !== undefined) message.id = id;
  if (from !== undefined) message.from = from;
  if (to !== undefined) message.to = to;
  return message;
}

/** @internal A direct message as virtual members see it. */
export function directMessage(
  room: string,
  from: string | undefined,
  to: string,
  data: unknown,
): RoomMessage {
  return roomMessage(room, undefined, from, data, to);
}
