import { roomErrorFrame } from '@atmosphere/protocol';
import {
  type Atmosphere,
  AtmosphereError,
  type AtmosphereResource,
  type Broadcaster,
  type BroadcasterFactory,
  type Logger,
} from '@atmosphere/runtime';
import type { StreamLog } from '@atmosphere/runtime/spi';
import { LogHistory } from './history.ts';
import { roomAtmosphereJsBroadcasterId, roomBroadcasterId } from './names.ts';
import { notify, RoomDelivery, type Settle } from './room-delivery.ts';
import { RoomMembership } from './room-membership.ts';
import { RoomMessaging } from './room-messaging.ts';
import type { RoomClusterView, RoomsCluster } from './room-cluster.ts';
import { RoomTurns } from './room-turns.ts';
import type {
  LeaveReason,
  PresenceEvent,
  PresenceListener,
  RoomMember,
  RoomMemberInfo,
  RoomMessage,
  RoomMetadata,
  RoomSender,
  RoomView,
} from './types.ts';
import type { VirtualHost } from './virtual-context.ts';
import type { RoomTurnRefusal, VirtualMemberContext, VirtualRoomMember } from './virtual-member.ts';
import type { RoomCommand } from '@atmosphere/protocol';

/** @internal What a room needs from its manager. */
export interface RoomHost {
  readonly atmosphere: Atmosphere;
  readonly logger: Logger;
  readonly broadcasters: BroadcasterFactory;
  /** Where room history is kept beyond the process: the stream log when it is durable, else none. */
  readonly historyLog: StreamLog | undefined;
  /**
   * This node, when the stream log is shared by the nodes of a cluster: the broadcaster of the atmosphere.js
   * dialect is then the node's own (each node renders what it delivers in that dialect for its own connections).
   */
  readonly nodeTag: string | undefined;
  /** A connection joined the room as `member` (watch it for disconnects, keep it in its session). */
  connectionJoined(resource: AtmosphereResource, room: Room, member: RoomMember): void;
  /** A connection left the room (`reason` undefined: the room was destroyed). */
  connectionLeft(resource: AtmosphereResource, room: Room, reason: LeaveReason | undefined): void;
  /** The room was destroyed (forget it). */
  roomDestroyed(room: Room): void;
  /** Whether a connection speaks the atmosphere.js 5 dialect. */
  speaksAtmosphereJs(resource: AtmosphereResource): boolean;
  /** The shared membership of the cluster, when the `cluster-state` provider is shared. */
  readonly cluster?: RoomsCluster | undefined;
}

/** What releases nothing. */
const NOTHING = (): void => undefined;

/**
 * A room: members (connections, and virtual members), presence, optional history, direct messages. Get one
 * from a {@link RoomManager}. Its traffic goes through the runtime broadcaster `rooms:<name>` — each frame
 * serialised once and shared by every recipient; filters, the missed-message cache, backpressure and
 * clustering apply.
 *
 * Ordering: everything the room sends (messages, presence, typing, AI frames, join acks and replays) is
 * delivered in one order, the same for every connection and virtual member. A joining connection receives its
 * `join_ack`, then the history after its `sinceId`, then live traffic — nothing missed, nothing twice, even
 * while asynchronous broadcast filters hold messages.
 */
export class Room implements VirtualHost, RoomView {
  readonly name: string;
  /** The id of the runtime broadcaster carrying this room's traffic. */
  readonly broadcasterId: string;
  readonly #host: RoomHost;
  readonly #broadcaster: Broadcaster;
  /** The same traffic in the atmosphere.js 5 dialect, once a connection that speaks it has joined. */
  #jsBroadcaster: Broadcaster | undefined;
  readonly #membership: RoomMembership;
  #listeners: readonly PresenceListener[] = [];
  #destroyed = false;
  #persistent: boolean;
  readonly #delivery: RoomDelivery;
  readonly #messaging: RoomMessaging;
  readonly #cluster: RoomClusterView | undefined;
  readonly #turns: RoomTurns;

  /** @internal Use `RoomManager.room()`. */
  constructor(
    name: string,
    host: RoomHost,
    options: { persistent: boolean; history: number; maxReplay?: number },
  ) {
    this.name = name;
    this.broadcasterId = roomBroadcasterId(name);
    this.#host = host;
    this.#persistent = options.persistent;
    // Rooms outlive their connections (virtual members, history), so the broadcaster must not vanish when empty.
    this.#broadcaster = host.broadcasters.get(this.broadcasterId, {
      destroyWhenEmpty: false,
      spanAttributes: { 'atmosphere.room': name },
      relayed: (payload, targets) => this.#delivery.relayed(payload, targets),
    });
    const membership: RoomMembership = (this.#membership = new RoomMembership({
      name,
      broadcaster: this.#broadcaster,
      jsBroadcaster: () => this.#jsBroadcaster,
      speaksAtmosphereJs: (resource) => host.speaksAtmosphereJs(resource),
      get delivery(): RoomDelivery {
        return delivery;
      },
      room: this,
      host: this,
      assertOpen: () => this.#assertOpen(),
      connectionJoined: (resource, member) => host.connectionJoined(resource, this, member),
      connectionLeft: (resource, reason) => {
        this.#turns.connectionLeft(resource);
        host.connectionLeft(resource, this, reason);
      },
      lastMemberLeft: () => {
        if (!this.#persistent) delivery.submit({ kind: 'task', run: this.#destroyIfEmpty });
      },
    }));
    const delivery: RoomDelivery = (this.#delivery = new RoomDelivery(
      {
        name,
        logger: host.logger,
        broadcaster: this.#broadcaster,
        jsBroadcaster: () => this.#jsBroadcaster,
        openJsBroadcaster: () =>
          (this.#jsBroadcaster ??= host.broadcasters.get(roomAtmosphereJsBroadcasterId(name, host.nodeTag), {
            destroyWhenEmpty: false,
            spanAttributes: { 'atmosphere.room': name },
            // Every node renders the room's traffic in this dialect for its own connections (see `relayed`).
            relay: false,
          })),
        speaksAtmosphereJs: (resource) => host.speaksAtmosphereJs(resource),
        members: membership.byId,
        virtuals: membership.virtuals,
        connection: (id) => membership.connections.get(id),
        listeners: () => this.#listeners,
      },
      options.history,
      host.historyLog === undefined ? undefined : new LogHistory(host.historyLog, name),
      options.maxReplay,
    ));
    this.#cluster = delivery.cluster = host.cluster?.open(name, host.logger, {
      enqueue: (run) => delivery.submit({ kind: 'task', run }),
      resume: () => delivery.resume(),
      announcedHere: (id) => delivery.announced.has(id),
      remoteJoined: (member, virtual) => delivery.remotePresence(member, virtual, undefined),
      remoteLeft: (member, virtual, reason) => delivery.remotePresence(member, virtual, reason),
      remoteMessage: (message) => delivery.remoteMessage(message),
      membersChanged: () => delivery.membersChanged(),
      routedTurn: (turn, node) => this.#turns.routed(turn, node),
      remoteError: (frame) => this.#writeToConnections(frame),
    });
    this.#messaging = new RoomMessaging({
      name,
      delivery,
      members: membership.byId,
      connectionMember: (resource) => membership.connectionMember(resource),
      assertOpen: () => this.#assertOpen(),
    });
    this.#turns = new RoomTurns({
      name,
      logger: host.logger,
      broadcaster: this.#broadcaster,
      virtual: (id) => membership.byId.get(id)?.context,
      virtuals: () => Array.from(membership.virtuals, (state) => state.context!),
      memberOf: (resource) => membership.connectionMember(resource),
      connections: () =>
        Array.from(membership.connections.values(), (entry) => ({
          resource: entry.resource,
          member: entry.state.member,
        })),
      speaksAtmosphereJs: (resource) => host.speaksAtmosphereJs(resource),
      inOrder: (run) => delivery.submit({ kind: 'task', run }),
      seatedElsewhere: (id) => this.#cluster?.seatedElsewhere(id) ?? [],
      routeTurn: (turn, nodes) => this.#cluster?.routeTurn(turn, nodes) ?? Promise.resolve([]),
    });
  }

  readonly #destroyIfEmpty = (): void => {
    if (this.#membership.byId.size === 0 && !this.#persistent) this.destroy();
  };

  get atmosphere(): Atmosphere {
    return this.#host.atmosphere;
  }

  get logger(): Logger {
    return this.#host.logger;
  }

  get destroyed(): boolean {
    return this.#destroyed;
  }

  /**
   * A persistent room lives until `destroy()`; a room a client's join created is destroyed when its last
   * member leaves, until server code takes it over (`RoomManager.room(name)` makes it persistent).
   */
  get persistent(): boolean {
    return this.#persistent;
  }

  /** @internal */
  makePersistent(): void {
    this.#persistent = true;
  }

  /** Number of members (a member with several connections counts once; virtual members count). */
  get size(): number {
    return this.#membership.byId.size;
  }

  /** How many messages history keeps (0 = off). */
  get historyCapacity(): number {
    return this.#delivery.history?.capacity ?? 0;
  }

  // ------------------------------------------------------------------------------------------- members

  /**
   * Adds a connection to the room as `member` (default id: the connection's tracking id). The first connection
   * of a member announces it (`presence` join to the others); more connections of the same member id (tabs)
   * announce nothing and keep the first join's metadata. The connection receives a `join_ack` (and, with
   * `sinceId`, the history after that id) before any later room traffic. Joining again with the same id re-sends
   * the ack. Throws `BAD_REQUEST` for an invalid member id or `sinceId`, `CONFLICT` when the connection is in the
   * room as another member or the id belongs to a virtual member, `CLOSED` after `destroy()` or for a closed
   * resource. Not subject to the authorizer (that is for client requests).
   */
  join(
    resource: AtmosphereResource,
    member: { id?: string; metadata?: RoomMetadata } = {},
    options: { sinceId?: number } = {},
  ): RoomMember {
    const joined = this.#membership.join(resource, member, options);
    this.#turns.connectionJoined(resource, joined);
    return joined;
  }

  /**
   * Removes a connection (its member leaves when it was the member's last connection), or, given a member id,
   * the member with all its connections (each removed connection is sent a `presence` leave about itself so
   * it knows it is out) or the virtual member. Returns false when there was nothing to remove.
   */
  leave(who: AtmosphereResource | string): boolean {
    return this.#membership.leave(who);
  }

  /**
   * @internal Removes one connection. `notifySelf` writes it a `presence` leave about its own member (it did
   * not ask to leave: removed by the server, or its rooms grace period ended).
   */
  removeConnection(resource: AtmosphereResource, reason: LeaveReason, notifySelf: boolean): boolean {
    return this.#membership.removeConnection(resource, reason, notifySelf);
  }

  /** The members, in join order. */
  members(): RoomMember[] {
    return this.#membership.members();
  }

  /** Every member of the room: this node's, then those only other nodes of a cluster hold. */
  clusterMembers(): RoomMember[] {
    const cluster = this.#cluster;
    const here = this.#membership.members();
    return cluster === undefined ? here : [...here, ...cluster.remoteMembers()];
  }

  /** A member by id. */
  member(id: string): RoomMember | undefined {
    return this.#membership.member(id);
  }

  has(id: string): boolean {
    return this.#membership.has(id);
  }

  /** Every member with what the server knows of it, by id. */
  memberInfo(): Map<string, RoomMemberInfo> {
    return this.#membership.memberInfo();
  }

  /** The member a connection joined as, if it is in the room. */
  connectionMember(resource: AtmosphereResource): RoomMember | undefined {
    return this.#membership.connectionMember(resource);
  }

  /** The connections in the room. */
  resources(): AtmosphereResource[] {
    return this.#membership.resources();
  }

  /** Listens to presence events, in room order. Returns the function that stops listening. */
  onPresence(listener: PresenceListener): () => void {
    this.#listeners = [...this.#listeners, listener];
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }

  // ------------------------------------------------------------------------------------------ messages

  /**
   * Says `data` (any JSON value) to the room as a `message` frame; with history on it gets the next id and is
   * remembered. `sender`: a connection in the room (it does not receive its own message; the member's other
   * connections do) or a member id (a virtual member does not receive its own message); none = from the server
   * (no `from`). Resolves with the message once it is queued for every recipient; rejects with `BAD_REQUEST`
   * (data not JSON, sender not in the room), `CLOSED`, or `FILTER_FAILED`.
   */
  broadcast(data: unknown, sender?: RoomSender): Promise<RoomMessage> {
    return this.#messaging.broadcast(data, sender);
  }

  /**
   * @internal Queues a `message` from `from` (validated). Throws `BAD_REQUEST` for non-JSON data; `failed` is
   * called when it could not be sent (its log refused it, a filter failed).
   */
  say(
    from: string | undefined,
    exclude: string | undefined,
    data: unknown,
    failed?: (error: unknown) => void,
  ): void {
    this.#messaging.say(from, exclude, data, failed);
  }

  /**
   * Sends `data` to one member only (all its connections, or the virtual member's `onMessage`) as a `message`
   * frame without id, never kept in history. Resolves false when there is no such member.
   */
  sendTo(memberId: string, data: unknown, from?: string): Promise<boolean> {
    return this.#messaging.sendTo(memberId, data, from);
  }

  /** @internal Queues a direct message to a present member. Throws `BAD_REQUEST` for non-JSON data. */
  direct(from: string | undefined, targetId: string, data: unknown, done?: Settle): void {
    this.#messaging.direct(from, targetId, data, done);
  }

  /** @internal Queues a typing frame from `memberId` for every connection but `exclude`. */
  typingFrom(memberId: string, typing: boolean, exclude: string | undefined, done?: Settle): void {
    this.#messaging.typingFrom(memberId, typing, exclude, done);
  }

  /** @internal */
  sendTyping(memberId: string, typing: boolean): Promise<void> {
    return this.#messaging.sendTyping(memberId, typing);
  }

  /** @internal Claims a message key across the cluster (kept 10 minutes); true at once on a single node. */
  claimMessage(key: string): boolean | Promise<boolean> {
    const cluster = this.#host.cluster;
    return cluster === undefined ? true : cluster.state.claim(`room-message:${key}`, 600_000);
  }

  /** @internal Holds a virtual member's running answer in the cluster; a no-op on a single node. */
  holdAnswer(memberId: string, sessionId: string, onLost?: () => void): () => void {
    return this.#cluster?.holdAnswer(memberId, sessionId, onLost) ?? NOTHING;
  }

  /** @internal */
  sendFrame(payload: string): Promise<void> {
    return this.#messaging.sendFrame(payload);
  }

  /**
   * @internal Writes an `error` frame straight to every connection of the room — outside its stream (no
   * broadcaster, no log) — here and, in a cluster, on every other node (through the cluster state). Rejects
   * when the cluster state refused it or it is too long for other nodes (this node's connections have it).
   */
  sendError(frame: string): Promise<void> {
    if (this.#destroyed) return Promise.resolve();
    this.#writeToConnections(frame);
    return this.#cluster?.sendError(frame) ?? Promise.resolve();
  }

  #writeToConnections(frame: string): void {
    for (const { resource } of this.#membership.connections.values())
      if (resource.state !== 'closed') resource.write(frame);
  }

  // ------------------------------------------------------------------------------------------- history

  /**
   * Keeps the last `capacity` broadcast messages (0 turns history off and forgets it). With history on, every
   * `message` frame carries an `id` (growing by one, never reused by this room) and a client joining with
   * `sinceId` receives the messages after that id. Changing the capacity keeps the newest messages.
   */
  enableHistory(capacity: number): this {
    this.#messaging.enableHistory(capacity);
    return this;
  }

  /** Remembered messages after `sinceId` (all when omitted), oldest first. */
  history(sinceId?: number): RoomMessage[] {
    return this.#messaging.history(sinceId);
  }

  /** The id of the newest message kept in history, if any. */
  get lastMessageId(): number | undefined {
    return this.#delivery.history?.lastId;
  }

  // ------------------------------------------------------------------------------------------- virtual

  /**
   * Seats a server-side member. It is announced (`presence` join to every connection, `onPresence` elsewhere),
   * listed in `join_ack`s, receives every room message through `onMessage`, and acts through the returned
   * context. Throws `BAD_REQUEST` for an invalid id, `CONFLICT` when the id is taken, `CLOSED` after `destroy()`.
   */
  joinVirtual(member: VirtualRoomMember): VirtualMemberContext {
    const context = this.#membership.joinVirtual(member);
    const seated = this.#membership.byId.get(member.id)?.context;
    if (seated !== undefined) this.#turns.virtualJoined(seated);
    return context;
  }

  /**
   * @internal A connection's `stop` or `steer` for a virtual member's answer: refused (with the reason for its
   * `error` frame) unless that member takes turns and the connection's role allows it.
   */
  turn(
    resource: AtmosphereResource,
    member: RoomMember,
    command: Extract<RoomCommand, { type: 'stop' | 'steer' | 'approval' }>,
  ): RoomTurnRefusal | undefined | Promise<RoomTurnRefusal | undefined> {
    return this.#turns.control(resource, member, command);
  }

  /**
   * @internal A connection's paint timing report about virtual member `memberId`'s answers, handed to its
   * `onTiming` as sent (dropped when it has none), on the node where the answer ran (see `locateTiming`).
   * Never answered.
   */
  timing(resource: AtmosphereResource, member: RoomMember, memberId: string, report: string): void {
    this.#turns.timing(resource, member, memberId, report);
  }

  /** Removes a virtual member (by id or by the object passed to `joinVirtual`). Returns false if absent. */
  leaveVirtual(member: VirtualRoomMember | string): boolean {
    return this.#membership.leaveVirtual(member);
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  /**
   * Destroys the room: every connection is sent `{"type":"error","room":…,"data":"Room closed"}` and
   * unsubscribed (connections stay open), virtual members are told (`onLeave`, signal aborted), presence
   * listeners get a `leave` per member, history is dropped, the broadcaster destroyed, the manager forgets the
   * room. Operations still queued are dropped (their promises reject with `CLOSED`). Idempotent.
   */
  destroy(): void {
    if (this.#destroyed) return;
    this.#destroyed = true;
    const error = closedError(this.name);
    for (const op of this.#delivery.drain()) if (op.kind === 'send') op.done?.reject(error);
    const closing = roomErrorFrame(this.name, 'Room closed');
    const { connections, members } = this.#membership.clear();
    for (const { resource } of connections) {
      this.#broadcaster.removeResource(resource);
      this.#jsBroadcaster?.removeResource(resource);
      this.#host.connectionLeft(resource, this, undefined);
      if (resource.state !== 'closed') resource.write(closing);
    }
    const listeners = this.#listeners;
    for (const state of members) {
      state.context?.close('room-destroyed');
      if (!state.announced) continue;
      const event: PresenceEvent = {
        room: this.name,
        action: 'leave',
        member: state.member,
        virtual: state.context !== undefined,
        reason: 'room-destroyed',
      };
      for (const listener of listeners) notify(this, listener, event);
    }
    this.#listeners = [];
    if (this.#cluster !== undefined) this.#host.cluster?.closed(this.name, this.#cluster);
    this.#delivery.dropHistory();
    if (this.#host.broadcasters.find(this.broadcasterId) === this.#broadcaster)
      this.#host.broadcasters.destroy(this.broadcasterId);
    const js = this.#jsBroadcaster;
    if (js !== undefined && this.#host.broadcasters.find(js.id) === js)
      this.#host.broadcasters.destroy(js.id);
    this.#host.roomDestroyed(this);
  }

  #assertOpen(): void {
    if (this.#destroyed) throw closedError(this.name);
  }
}

function closedError(room: string): AtmosphereError {
  return new AtmosphereError('CLOSED', `Room ${room} was destroyed.`);
}
