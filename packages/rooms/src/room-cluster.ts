import { type Atmosphere, AtmosphereError, type Logger } from '@atmosphere/runtime';
import { roomErrorFrame } from '@atmosphere/protocol';
import type { ClusterChange, ClusterState } from '@atmosphere/runtime/spi';
import type { LeaveReason, RoomMember, RoomMessage, RoomMetadata } from './types.ts';

/** The cluster-wide key of each message said in a room of a cluster (see {@link clusterMessageKey}). */
const messageKeys = new WeakMap<RoomMessage, string>();

/**
 * The cluster-wide key of a room message, as virtual members receive it, when the room is shared by the nodes
 * of a cluster: `<node>:<epoch>:<n>` of the node where it was said, the same on every node. A member seated on
 * every node (an AI member) claims it (`ClusterState.claim`) so that exactly one node acts on the message.
 * Undefined on a single node (nothing to share) and for direct messages.
 */
export function clusterMessageKey(message: RoomMessage): string | undefined {
  return messageKeys.get(message);
}

/** A message said on another node, as the signal carries it. */
interface SignalledMessage {
  readonly k: string;
  readonly m: RoomMessage;
}

/**
 * A turn (stop, steer) sent to a node whose copy of an AI member does not run the answer it means, as that
 * node asks the other nodes seating the member: JSON, the connection left behind (its node checked its role).
 */
export interface RoutedTurn {
  /** The virtual member the turn is for. */
  readonly memberId: string;
  /** The member whose connection sent it. */
  readonly member: RoomMember;
  readonly role: string;
  readonly action: string;
  /** The rest of the turn (`sessionId`, `steerId`, `text`, `approvalId`, `approved`, `arguments`). */
  readonly [field: string]: unknown;
}

/**
 * A node's answer to a routed turn: `taken` (the answer runs there and took it), `ended` (it ran there and is
 * over), `unknown` (not there), or the refusal of the node that runs it.
 */
export type RoutedTurnReply =
  'taken' | 'ended' | 'unknown' | { readonly code: string; readonly reason: string };

/** A routed turn on the wire (a signal of the room's scope), and its replies. */
interface TurnSignal {
  readonly t: 'turn';
  readonly i: string;
  /** The nodes asked. */
  readonly to: readonly string[];
  readonly q: RoutedTurn;
}
interface TurnReplySignal {
  readonly t: 'turn-reply';
  readonly i: string;
  readonly to: string;
  readonly r: RoutedTurnReply;
}

/**
 * An `error` frame for every connection of the room, said on a node whose room stream could not carry it (see
 * `VirtualMemberContext.sendError`): each node writes it to its own connections.
 */
interface ErrorSignal {
  readonly t: 'error';
  readonly f: string;
}

/** The longest `error` frame another node's signal may carry. */
const MAX_ERROR_FRAME = 8_192;

/** How long a node waits for the replies of the nodes it routed a turn to; a node silent that long counts as `unknown`. */
export const TURN_ROUTE_TIMEOUT_MS = 2_000;

interface PendingTurn {
  readonly waiting: Set<string>;
  readonly replies: RoutedTurnReply[];
  readonly resolve: (replies: RoutedTurnReply[]) => void;
  readonly timer: NodeJS.Timeout;
}

/** The scope of a room's entries in the cluster state. */
export function roomScope(room: string): string {
  return `room:${room}`;
}

/** The scope of a room's running answers in the cluster state: entries `<memberId>/<sessionId>`. */
export function answersScope(room: string): string {
  return `room-answers:${room}`;
}

/** How long the claim to tell the room of an answer interrupted by its node's death holds off other nodes. */
const INTERRUPTED_CLAIM_MS = 600_000;

/** What a node puts in the cluster state for a member it holds. */
interface HeldData {
  readonly metadata: RoomMetadata;
  readonly virtual: boolean;
}

/** A member other nodes hold (and this one may not). */
interface RemoteMember {
  member: RoomMember;
  virtual: boolean;
  readonly nodes: Set<string>;
}

/** @internal What a room's cluster view asks of the room's delivery. */
export interface ClusterDeliveryHooks {
  /** Runs `run` in room order (behind every operation queued before). */
  enqueue(run: () => void): void;
  /** The view is loaded: operations held behind it may run. */
  resume(): void;
  /** Whether this node has the member announced (a connection or a virtual member here). */
  announcedHere(id: string): boolean;
  /** A member arrived in the room on another node and was not here: announce it to this node. */
  remoteJoined(member: RoomMember, virtual: boolean): void;
  /** A member other nodes held is gone from all of them and is not here: announce its leave to this node. */
  remoteLeft(member: RoomMember, virtual: boolean, reason: LeaveReason): void;
  /** A message said on another node, for this node's virtual members (not its connections: the backplane). */
  remoteMessage(message: RoomMessage): void;
  /** The join_ack member list changed. */
  membersChanged(): void;
  /** A turn routed here by another node: taken by the virtual member when its answer runs here. */
  routedTurn(turn: RoutedTurn, node: string): RoutedTurnReply;
  /** An `error` frame of this room said on another node (see {@link ErrorSignal}): to this node's connections. */
  remoteError(frame: string): void;
}

/**
 * @internal One room's view of the cluster: mirrors the members this node announces into the cluster state
 * (one entry per node per member: two tabs of one member on two nodes are one member with two holders) and
 * keeps the members other nodes hold, so that `join_ack`s list the whole room and presence is announced once
 * per member — `join` when the first node holds it, `leave` when the last one lets go, whether it left or its
 * node died (its lease expired).
 *
 * Order: the view is loaded (snapshot, then the changes after it) before the room runs any operation — the
 * room's delivery queue stays blocked until `ready` — so a `join_ack` never lists less than the snapshot and
 * no remote join is announced before it. Changes after that run in room order, as queued operations.
 */
export class RoomClusterView {
  readonly #state: ClusterState;
  readonly #scope: string;
  readonly #room: string;
  /** The scope of the room's running answers (see {@link RoomClusterView.holdAnswer}). */
  readonly answers: string;
  /** How every `error` frame of the room starts. */
  readonly #errorHead: string;
  readonly #logger: Logger;
  readonly #hooks: ClusterDeliveryHooks;
  readonly #remote = new Map<string, RemoteMember>();
  /** How many of `#remote` are virtual members: a message goes to other nodes only while some are. */
  #remoteVirtual = 0;
  readonly #held = new Set<string>();
  #ready = false;
  #closed = false;
  #said = 0;
  #seq = 0;
  #early: ClusterChange[] | undefined = [];
  #turns = 0;
  /** What stops each answer running here (`<memberId>/<sessionId>`), should this node lose it. */
  readonly #lostAnswers = new Map<string, () => void>();
  readonly #pendingTurns = new Map<string, PendingTurn>();

  constructor(state: ClusterState, room: string, logger: Logger, hooks: ClusterDeliveryHooks) {
    this.#state = state;
    this.#scope = roomScope(room);
    this.#room = room;
    this.answers = answersScope(room);
    this.#errorHead = `{"type":"error","room":${JSON.stringify(room)},`;
    this.#logger = logger;
    this.#hooks = hooks;
  }

  /** False until the snapshot is loaded: the room's operations wait behind it. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Loads the snapshot, applies the changes that came meanwhile, then lets the room's operations run. */
  async load(): Promise<void> {
    try {
      const snapshot = await this.#state.snapshot(this.#scope);
      if (this.#closed) return;
      this.#seq = snapshot.seq;
      for (const entry of snapshot.entries)
        if (entry.node !== this.#state.nodeId) this.#add(entry.member, entry.node, entry.data);
    } catch (error) {
      this.#logger.error(
        `rooms: the cluster view of ${this.#scope} could not be loaded; its join_acks list this node's members only until the next change`,
        { error },
      );
    }
    const early = this.#early ?? [];
    this.#early = undefined;
    for (const change of early) this.#apply(change, false);
    this.#ready = true;
    this.#hooks.membersChanged();
    this.#hooks.resume();
  }

  /** A change of any scope (the manager routes its own). */
  changed(change: ClusterChange): void {
    if (this.#closed) return;
    if (change.scope === this.answers) {
      this.#answerChanged(change);
      return;
    }
    // Turn routing is not about membership: handled at once (a stop is quick), loaded or not.
    if (change.action === 'signal' && this.#turnSignal(change.by, change.data)) return;
    if (change.action === 'signal' && this.#errorSignal(change.by, change.data)) return;
    if (this.#early !== undefined) this.#early.push(change);
    else this.#hooks.enqueue(() => this.#apply(change, true));
  }

  /** Members other nodes hold that this node does not announce (for `join_ack`). */
  *remoteMembers(): Iterable<RoomMember> {
    for (const [id, remote] of this.#remote) if (!this.#hooks.announcedHere(id)) yield remote.member;
  }

  /** Whether another node holds the member (its presence was, or stays, announced by that node's hold). */
  heldElsewhere(id: string): boolean {
    return this.#remote.has(id);
  }

  /**
   * A message said here runs: it gets its cluster-wide key and, when another node seats a virtual member, goes
   * to those nodes as a signal (their connections get it through the backplane).
   */
  said(message: RoomMessage): void {
    const key = `${this.#state.nodeId}:${this.#state.epoch}:${++this.#said}`;
    messageKeys.set(message, key);
    if (this.#remoteVirtual === 0) return;
    const signal: SignalledMessage = { k: key, m: message };
    this.#state
      .signal(this.#scope, signal)
      .catch((error: unknown) =>
        this.#logger.error(
          `rooms: message ${key} of ${this.#scope} could not reach the virtual members of other nodes`,
          { error },
        ),
      );
  }

  /** The other nodes where a virtual member `id` is seated (empty when it is seated on this node only). */
  seatedElsewhere(id: string): string[] {
    const remote = this.#remote.get(id);
    return remote?.virtual === true ? [...remote.nodes] : [];
  }

  /**
   * Routes a turn to `nodes` (those seating its member) and resolves with their replies once each replied or
   * {@link TURN_ROUTE_TIMEOUT_MS} passed (a silent node is left out). Never rejects: a failed send resolves
   * with no replies.
   */
  routeTurn(turn: RoutedTurn, nodes: readonly string[]): Promise<RoutedTurnReply[]> {
    if (this.#closed || nodes.length === 0) return Promise.resolve([]);
    const id = `${this.#state.nodeId}:${this.#state.epoch}:${++this.#turns}`;
    return new Promise<RoutedTurnReply[]>((resolve) => {
      const replies: RoutedTurnReply[] = [];
      const done = (): void => {
        const pending = this.#pendingTurns.get(id);
        if (pending === undefined) return;
        this.#pendingTurns.delete(id);
        clearTimeout(pending.timer);
        resolve(replies);
      };
      const timer = setTimeout(done, TURN_ROUTE_TIMEOUT_MS);
      timer.unref();
      this.#pendingTurns.set(id, { waiting: new Set(nodes), replies, resolve: done, timer });
      const signal: TurnSignal = { t: 'turn', i: id, to: nodes, q: turn };
      this.#state.signal(this.#scope, signal).catch((error: unknown) => {
        this.#logger.error(
          `rooms: a ${turn.action} for ${turn.memberId} of ${this.#scope} could not be routed`,
          {
            error,
          },
        );
        done();
      });
    });
  }

  /**
   * Hands an `error` frame of the room to the other nodes, for their connections. Rejects when the cluster state
   * refused it, and (`MESSAGE_TOO_LARGE`) when the frame is longer than other nodes take ({@link MAX_ERROR_FRAME}).
   */
  sendError(frame: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (frame.length > MAX_ERROR_FRAME)
      return Promise.reject(
        new AtmosphereError(
          'MESSAGE_TOO_LARGE',
          `The error frame for room ${this.#scope} is ${frame.length} characters; other nodes take at most ${MAX_ERROR_FRAME}: only this node's connections have it (shorten its reason or details).`,
        ),
      );
    const signal: ErrorSignal = { t: 'error', f: frame };
    return this.#state.signal(this.#scope, signal);
  }

  /** An `error` frame from another node: handled (true), or not one (false). Only a room error frame is taken. */
  #errorSignal(by: string, data: unknown): boolean {
    if (typeof data !== 'object' || data === null || (data as Partial<ErrorSignal>).t !== 'error')
      return false;
    if (by === this.#state.nodeId) return true;
    const frame = (data as Partial<ErrorSignal>).f;
    if (typeof frame === 'string' && frame.length <= MAX_ERROR_FRAME && frame.startsWith(this.#errorHead))
      this.#hooks.remoteError(frame);
    else
      this.#logger.warn(
        `rooms: node ${by} signalled an error frame for ${this.#scope} that is not one of this room's (or longer than ${MAX_ERROR_FRAME} characters); not written to this node's connections`,
        { length: typeof frame === 'string' ? frame.length : undefined },
      );
    return true;
  }

  /** A signal about turn routing: handled (true), or not one (false). */
  #turnSignal(by: string, data: unknown): boolean {
    if (typeof data !== 'object' || data === null) return false;
    const signal = data as Partial<TurnSignal> | Partial<TurnReplySignal>;
    if (signal.t === 'turn') {
      const request = signal;
      if (by === this.#state.nodeId || !Array.isArray(request.to) || !request.to.includes(this.#state.nodeId))
        return true;
      if (typeof request.i !== 'string' || typeof request.q !== 'object' || request.q === null) return true;
      let reply: RoutedTurnReply;
      try {
        reply = this.#hooks.routedTurn(request.q, by);
      } catch (error) {
        this.#logger.error(`rooms: a turn routed to ${this.#scope} failed`, { error });
        reply = { code: 'INTERNAL', reason: 'The turn could not be taken.' };
      }
      const answer: TurnReplySignal = { t: 'turn-reply', i: request.i, to: by, r: reply };
      this.#state.signal(this.#scope, answer).catch((error: unknown) =>
        this.#logger.error(`rooms: the reply to a turn routed to ${this.#scope} could not be sent`, {
          error,
        }),
      );
      return true;
    }
    if (signal.t === 'turn-reply') {
      const reply = signal;
      if (reply.to !== this.#state.nodeId || typeof reply.i !== 'string') return true;
      const pending = this.#pendingTurns.get(reply.i);
      if (pending === undefined || !pending.waiting.delete(by)) return true;
      // Another node's data: only a reply of the documented shape counts (a node that sent none is not here).
      if (isTurnReply(reply.r)) pending.replies.push(reply.r);
      if (pending.waiting.size === 0) pending.resolve(pending.replies);
      return true;
    }
    return false;
  }

  /**
   * A virtual member's answer runs on this node: held in the cluster state (under this node's lease) until the
   * returned function lets go of it. Should the node die first, another node says it was interrupted.
   */
  holdAnswer(memberId: string, sessionId: string, onLost?: () => void): () => void {
    const key = `${memberId}/${sessionId}`;
    if (onLost !== undefined) this.#lostAnswers.set(key, onLost);
    const held = this.#state.hold(this.answers, key, null).then(
      () => true,
      (error: unknown) => {
        this.#logger.warn(
          `rooms: answer ${sessionId} of ${memberId} in ${this.#scope} could not be recorded in the cluster state; should this node die, other nodes will not say it was interrupted`,
          { error },
        );
        return false;
      },
    );
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.#lostAnswers.get(key) === onLost) this.#lostAnswers.delete(key);
      void held.then((ok) => {
        if (!ok) return;
        this.#state
          .release(this.answers, key)
          .catch((error: unknown) =>
            this.#logger.warn(
              `rooms: answer ${sessionId} of ${memberId} in ${this.#scope} could not be let go in the cluster state; it goes with this node's lease`,
              { error },
            ),
          );
      });
    };
  }

  /**
   * A running answer of another node is gone without being let go (its node's lease expired, or the node
   * restarted): one node of the cluster — the one that claims it — tells every connection of the room.
   */
  #answerChanged(change: ClusterChange): void {
    if (change.action !== 'release' || change.reason === 'released') return;
    if (change.node === this.#state.nodeId) {
      // This node's own answer, released by another node's sweep: its lease expired while the answer ran (a
      // hang, a cut from the cluster state), and another node says it was interrupted. It stops here too.
      const lost = this.#lostAnswers.get(change.member);
      this.#lostAnswers.delete(change.member);
      if (lost !== undefined) {
        this.#logger.warn(
          `rooms: this node's lease expired while answer ${change.member} of ${this.#scope} ran; it is stopped here (another node said it was interrupted)`,
        );
        lost();
      }
      return;
    }
    const slash = change.member.indexOf('/');
    if (slash <= 0) return;
    const memberId = change.member.slice(0, slash);
    const sessionId = change.member.slice(slash + 1);
    this.#state
      .claim(`room-answer-interrupted:${this.#room}:${sessionId}`, INTERRUPTED_CLAIM_MS)
      .then((mine) => {
        if (!mine || this.#closed) return;
        const frame = roomErrorFrame(
          this.#room,
          `The answer of ${memberId} was interrupted: the server that produced it stopped before it finished. Ask again for a full answer.`,
          'INTERRUPTED',
          { sessionId, memberId },
        );
        this.#hooks.remoteError(frame);
        return this.sendError(frame);
      })
      .catch((error: unknown) =>
        this.#logger.error(
          `rooms: the room ${this.#scope} could not be told that answer ${sessionId} of ${memberId} was interrupted (its node is gone)`,
          { error },
        ),
      );
  }

  /** This node announced a member: hold it in the cluster. */
  announced(member: RoomMember, virtual: boolean): void {
    this.#held.add(member.id);
    const data: HeldData = { metadata: member.metadata, virtual };
    this.#state
      .hold(this.#scope, member.id, data)
      .catch((error: unknown) => this.#failed('hold', member, error));
  }

  /** This node's member left: let go of it in the cluster. */
  withdrawn(member: RoomMember): void {
    if (!this.#held.delete(member.id)) return;
    this.#state
      .release(this.#scope, member.id)
      .catch((error: unknown) => this.#failed('release', member, error));
  }

  /** The room is destroyed here: let go of every member this node held in it. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of [...this.#pendingTurns.values()]) pending.resolve(pending.replies);
    for (const id of this.#held)
      this.#state.release(this.#scope, id).catch((error: unknown) => this.#failed('release', { id }, error));
    this.#held.clear();
    this.#remote.clear();
    this.#remoteVirtual = 0;
    this.#state.forget?.(this.#scope);
    this.#state.forget?.(this.answers);
  }

  #failed(what: string, member: { id: string }, error: unknown): void {
    if (this.#closed && what === 'release') return;
    this.#logger.error(
      `rooms: could not ${what} member ${member.id} of ${this.#scope} in the cluster state; other nodes see it when the state answers again or the node's lease expires`,
      { error },
    );
  }

  #apply(change: ClusterChange, announce: boolean): void {
    if (this.#closed) return;
    if (change.action === 'signal') {
      if (change.by === this.#state.nodeId) return;
      const signal = change.data as Partial<SignalledMessage>;
      if (typeof signal.k !== 'string' || typeof signal.m !== 'object' || signal.m === null) return;
      const message = Object.freeze({ ...signal.m });
      messageKeys.set(message, signal.k);
      this.#hooks.remoteMessage(message);
      return;
    }
    if (change.seq <= this.#seq) return;
    this.#seq = change.seq;
    if (change.node === this.#state.nodeId) return;
    if (change.action === 'hold') {
      const known = this.#remote.get(change.member);
      const present = known !== undefined || this.#hooks.announcedHere(change.member);
      const remote = this.#add(change.member, change.node, change.data);
      this.#hooks.membersChanged();
      if (announce && !present) this.#hooks.remoteJoined(remote.member, remote.virtual);
      return;
    }
    const remote = this.#remote.get(change.member);
    if (remote === undefined || !remote.nodes.delete(change.node) || remote.nodes.size > 0) return;
    this.#remote.delete(change.member);
    if (remote.virtual) this.#remoteVirtual--;
    this.#hooks.membersChanged();
    if (announce && !this.#hooks.announcedHere(change.member))
      this.#hooks.remoteLeft(
        remote.member,
        remote.virtual,
        change.reason === 'released' ? 'left' : 'node-lost',
      );
  }

  #add(id: string, node: string, data: unknown): RemoteMember {
    const held = (typeof data === 'object' && data !== null ? data : {}) as Partial<HeldData>;
    let remote = this.#remote.get(id);
    if (remote === undefined) {
      remote = {
        member: Object.freeze({ id, metadata: Object.freeze({ ...(held.metadata ?? {}) }) }),
        virtual: held.virtual === true,
        nodes: new Set(),
      };
      this.#remote.set(id, remote);
      if (remote.virtual) this.#remoteVirtual++;
    }
    remote.nodes.add(node);
    return remote;
  }
}

/**
 * @internal The rooms of one node in the cluster: one listener on the cluster state, routing each change to the
 * room it is about. Absent (undefined) when the instance's cluster state is not shared — one node, nothing to
 * mirror, rooms as before.
 */
export class RoomsCluster {
  readonly state: ClusterState;
  readonly #views = new Map<string, RoomClusterView>();
  readonly #stop: () => void;

  static of(atmosphere: Atmosphere): RoomsCluster | undefined {
    const state = atmosphere.provider('cluster-state');
    return state?.shared === true ? new RoomsCluster(state) : undefined;
  }

  constructor(state: ClusterState) {
    this.state = state;
    this.#stop = state.onChange((change) => this.#views.get(change.scope)?.changed(change));
  }

  /** A view for a new room; its load starts now. */
  open(room: string, logger: Logger, hooks: ClusterDeliveryHooks): RoomClusterView {
    const view = new RoomClusterView(this.state, room, logger, hooks);
    this.#views.set(roomScope(room), view);
    this.#views.set(view.answers, view);
    void view.load();
    return view;
  }

  /** The room is gone here. */
  closed(room: string, view: RoomClusterView): void {
    view.close();
    if (this.#views.get(roomScope(room)) === view) this.#views.delete(roomScope(room));
    if (this.#views.get(view.answers) === view) this.#views.delete(view.answers);
  }

  stop(): void {
    this.#stop();
    for (const view of new Set(this.#views.values())) view.close();
    this.#views.clear();
  }
}

function isTurnReply(value: unknown): value is RoutedTurnReply {
  if (value === 'taken' || value === 'ended' || value === 'unknown') return true;
  const reply = value as { code?: unknown; reason?: unknown } | null;
  return (
    typeof reply === 'object' &&
    reply !== null &&
    typeof reply.code === 'string' &&
    reply.code.length <= 64 &&
    typeof reply.reason === 'string' &&
    reply.reason.length <= 1_000
  );
}
