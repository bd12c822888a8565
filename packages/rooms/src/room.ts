import {
  AtmosphereError,
  type AtmosphereResource,
  type Broadcaster,
  type BroadcasterFactory,
  type Logger,
} from '@atmosphere/runtime';
import { asError } from './errors.ts';
import { errorFrame, messageFrame, presenceFrame, typingFrame } from './frames.ts';
import { RoomHistory } from './history.ts';
import { isMemberId, MEMBER_ID_RULE, roomBroadcasterId } from './names.ts';
import { directMessage, type MemberState, notify, RoomDelivery, type Settle } from './room-delivery.ts';
import type {
  LeaveReason,
  PresenceEvent,
  PresenceListener,
  RoomMember,
  RoomMemberInfo,
  RoomMessage,
  RoomMetadata,
  RoomSender,
} from './types.ts';
import { VirtualContext, type VirtualHost } from './virtual-context.ts';
import type { VirtualMemberContext, VirtualRoomMember } from './virtual-member.ts';

/** @internal What a room needs from its manager. */
export interface RoomHost {
  readonly logger: Logger;
  readonly broadcasters: BroadcasterFactory;
  /** A connection joined the room (watch it for disconnects). */
  connectionJoined(resource: AtmosphereResource, room: Room): void;
  /** A connection left the room. */
  connectionLeft(resource: AtmosphereResource, room: Room): void;
  /** The room was destroyed (forget it). */
  roomDestroyed(room: Room): void;
}

const EMPTY_METADATA: RoomMetadata = Object.freeze({});

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
export class Room implements VirtualHost {
  readonly name: string;
  /** The id of the runtime broadcaster carrying this room's traffic. */
  readonly broadcasterId: string;
  readonly #host: RoomHost;
  readonly #broadcaster: Broadcaster;
  readonly #members = new Map<string, MemberState>();
  readonly #connections = new Map<string, { resource: AtmosphereResource; state: MemberState }>();
  readonly #virtuals = new Set<MemberState>();
  #listeners: readonly PresenceListener[] = [];
  #destroyed = false;
  #persistent: boolean;
  readonly #delivery: RoomDelivery;

  /** @internal Use `RoomManager.room()`. */
  constructor(name: string, host: RoomHost, options: { persistent: boolean; history: number }) {
    this.name = name;
    this.broadcasterId = roomBroadcasterId(name);
    this.#host = host;
    this.#persistent = options.persistent;
    // Rooms outlive their connections (virtual members, history), so the broadcaster must not vanish when empty.
    this.#broadcaster = host.broadcasters.get(this.broadcasterId, { destroyWhenEmpty: false });
    this.#delivery = new RoomDelivery(
      {
        name,
        logger: host.logger,
        broadcaster: this.#broadcaster,
        members: this.#members,
        virtuals: this.#virtuals,
        connection: (id) => this.#connections.get(id),
        listeners: () => this.#listeners,
      },
      options.history,
    );
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
    return this.#members.size;
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
    this.#assertOpen();
    if (resource.state === 'closed')
      throw new AtmosphereError(
        'CLOSED',
        `Resource ${resource.id} is closed and cannot join room ${this.name}.`,
      );
    const id = member.id ?? resource.id;
    if (!isMemberId(id))
      throw new AtmosphereError('BAD_REQUEST', `Invalid member id ${JSON.stringify(id)}: ${MEMBER_ID_RULE}.`);
    const sinceId = options.sinceId;
    if (sinceId !== undefined && !(Number.isSafeInteger(sinceId) && sinceId >= 0)) {
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Invalid sinceId ${sinceId}: expected a non-negative integer.`,
      );
    }
    const current = this.#connections.get(resource.id);
    if (current !== undefined) {
      if (current.resource !== resource) {
        this.removeConnection(current.resource, 'disconnected', false);
      } else if (current.state.member.id !== id) {
        throw new AtmosphereError(
          'CONFLICT',
          `This connection is in room ${this.name} as ${current.state.member.id}; leave first.`,
        );
      } else {
        this.#delivery.submit({ kind: 'subscribe', resource, state: current.state, sinceId });
        return current.state.member;
      }
    }
    let state = this.#members.get(id);
    if (state?.context !== undefined)
      throw new AtmosphereError(
        'CONFLICT',
        `Member id ${id} belongs to a virtual member of room ${this.name}.`,
      );
    if (state === undefined) {
      const metadata = checkedMetadata(member.metadata, id);
      state = {
        member: Object.freeze({ id, metadata }),
        connections: new Set(),
        joinedAt: Date.now(),
        context: undefined,
        announced: false,
      };
      this.#members.set(id, state);
    }
    state.connections.add(resource);
    this.#connections.set(resource.id, { resource, state });
    this.#host.connectionJoined(resource, this);
    this.#delivery.submit({ kind: 'subscribe', resource, state, sinceId });
    return state.member;
  }

  /**
   * Removes a connection (its member leaves when it was the member's last connection), or, given a member id,
   * the member with all its connections (each removed connection is sent a `presence` leave about itself so
   * it knows it is out) or the virtual member. Returns false when there was nothing to remove.
   */
  leave(who: AtmosphereResource | string): boolean {
    if (typeof who !== 'string') return this.removeConnection(who, 'left', false);
    const state = this.#members.get(who);
    if (state === undefined) return false;
    if (state.context !== undefined) return this.leaveVirtual(who);
    for (const resource of [...state.connections]) this.removeConnection(resource, 'removed', true);
    return true;
  }

  /**
   * @internal Removes one connection. `notifySelf` writes it a `presence` leave about its own member (it did
   * not ask to leave: removed by the server, or its rooms grace period ended).
   */
  removeConnection(resource: AtmosphereResource, reason: LeaveReason, notifySelf: boolean): boolean {
    const entry = this.#connections.get(resource.id);
    if (entry === undefined || entry.resource !== resource) return false;
    const state = entry.state;
    this.#connections.delete(resource.id);
    state.connections.delete(resource);
    this.#broadcaster.removeResource(resource);
    this.#host.connectionLeft(resource, this);
    if (notifySelf && resource.state !== 'closed')
      resource.write(presenceFrame(this.name, 'leave', state.member));
    if (state.connections.size === 0) this.#removeMember(state, reason);
    return true;
  }

  #removeMember(state: MemberState, reason: LeaveReason): void {
    if (this.#members.get(state.member.id) !== state) return;
    this.#members.delete(state.member.id);
    if (state.context !== undefined) {
      this.#virtuals.delete(state);
      state.context.close(reason);
    }
    this.#delivery.submit({ kind: 'presence', action: 'leave', state, reason });
    if (this.#members.size === 0 && !this.#persistent)
      this.#delivery.submit({ kind: 'task', run: this.#destroyIfEmpty });
  }

  readonly #destroyIfEmpty = (): void => {
    if (this.#members.size === 0 && !this.#persistent) this.destroy();
  };

  /** The members, in join order. */
  members(): RoomMember[] {
    return Array.from(this.#members.values(), (state) => state.member);
  }

  /** A member by id. */
  member(id: string): RoomMember | undefined {
    return this.#members.get(id)?.member;
  }

  has(id: string): boolean {
    return this.#members.has(id);
  }

  /** Every member with what the server knows of it, by id. */
  memberInfo(): Map<string, RoomMemberInfo> {
    const info = new Map<string, RoomMemberInfo>();
    for (const [id, state] of this.#members) {
      info.set(id, {
        ...state.member,
        virtual: state.context !== undefined,
        connections: state.connections.size,
        joinedAt: state.joinedAt,
      });
    }
    return info;
  }

  /** The member a connection joined as, if it is in the room. */
  connectionMember(resource: AtmosphereResource): RoomMember | undefined {
    const entry = this.#connections.get(resource.id);
    return entry !== undefined && entry.resource === resource ? entry.state.member : undefined;
  }

  /** The connections in the room. */
  resources(): AtmosphereResource[] {
    return Array.from(this.#connections.values(), (entry) => entry.resource);
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
    try {
      this.#assertOpen();
      let from: string | undefined;
      let exclude: string | undefined;
      if (typeof sender === 'string') {
        if (!isMemberId(sender))
          throw new AtmosphereError('BAD_REQUEST', `Invalid sender id ${JSON.stringify(sender)}.`);
        from = sender;
      } else if (sender !== undefined) {
        const member = this.connectionMember(sender);
        if (member === undefined)
          throw new AtmosphereError('BAD_REQUEST', `Resource ${sender.id} is not in room ${this.name}.`);
        from = member.id;
        exclude = sender.id;
      }
      const prepared = this.#delivery.prepare(from, data);
      return new Promise<RoomMessage>((resolve, reject) => {
        this.#delivery.submitMessage(prepared, exclude, { resolve: () => resolve(prepared.message), reject });
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** @internal Queues a `message` from `from` (validated); returns it. Throws `BAD_REQUEST` for non-JSON data. */
  say(from: string | undefined, exclude: string | undefined, data: unknown): RoomMessage {
    const prepared = this.#delivery.prepare(from, data);
    this.#delivery.submitMessage(prepared, exclude, undefined);
    return prepared.message;
  }

  /**
   * Sends `data` to one member only (all its connections, or the virtual member's `onMessage`) as a `message`
   * frame without id, never kept in history. Resolves false when there is no such member.
   */
  sendTo(memberId: string, data: unknown, from?: string): Promise<boolean> {
    try {
      this.#assertOpen();
      if (from !== undefined && !isMemberId(from))
        throw new AtmosphereError('BAD_REQUEST', `Invalid sender id ${JSON.stringify(from)}.`);
      if (!this.#members.has(memberId)) return Promise.resolve(false);
      return new Promise<boolean>((resolve, reject) => {
        this.direct(from, memberId, data, { resolve: () => resolve(true), reject });
      });
    } catch (error) {
      return Promise.reject(asError(error));
    }
  }

  /** @internal Queues a direct message to a present member. Throws `BAD_REQUEST` for non-JSON data. */
  direct(from: string | undefined, targetId: string, data: unknown, done?: Settle): void {
    const target = this.#members.get(targetId);
    if (target === undefined) {
      done?.resolve();
      return;
    }
    const payload = messageFrame(this.name, undefined, from, data);
    const message = directMessage(this.name, from, targetId, data);
    this.#delivery.submit({
      kind: 'send',
      payload,
      exclude: undefined,
      target,
      entry: undefined,
      message,
      skip: undefined,
      done,
    });
  }

  /** @internal Queues a typing frame from `memberId` for every connection but `exclude`. */
  typingFrom(memberId: string, typing: boolean, exclude: string | undefined, done?: Settle): void {
    this.#delivery.submit({
      kind: 'send',
      payload: typingFrame(this.name, memberId, typing),
      exclude,
      target: undefined,
      entry: undefined,
      message: undefined,
      skip: undefined,
      done,
    });
  }

  /** @internal */
  sendTyping(memberId: string, typing: boolean): Promise<void> {
    if (this.#destroyed) return Promise.reject(closedError(this.name));
    return new Promise<void>((resolve, reject) =>
      this.typingFrom(memberId, typing, undefined, { resolve, reject }),
    );
  }

  /** @internal */
  sendFrame(payload: string): Promise<void> {
    if (this.#destroyed) return Promise.reject(closedError(this.name));
    return new Promise<void>((resolve, reject) =>
      this.#delivery.submit({
        kind: 'send',
        payload,
        exclude: undefined,
        target: undefined,
        entry: undefined,
        message: undefined,
        skip: undefined,
        done: { resolve, reject },
      }),
    );
  }

  // ------------------------------------------------------------------------------------------- history

  /**
   * Keeps the last `capacity` broadcast messages (0 turns history off and forgets it). With history on, every
   * `message` frame carries an `id` (growing by one, never reused by this room) and a client joining with
   * `sinceId` receives the messages after that id. Changing the capacity keeps the newest messages.
   */
  enableHistory(capacity: number): this {
    if (!Number.isSafeInteger(capacity) || capacity < 0) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        `enableHistory() needs a capacity that is an integer >= 0; got ${capacity}.`,
      );
    }
    const history = this.#delivery.history;
    this.#delivery.history =
      capacity === 0
        ? undefined
        : history === undefined
          ? new RoomHistory(capacity)
          : history.resized(capacity);
    return this;
  }

  /** Remembered messages after `sinceId` (all when omitted), oldest first. */
  history(sinceId?: number): RoomMessage[] {
    return this.#delivery.history?.after(sinceId).map((entry) => entry.message) ?? [];
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
    this.#assertOpen();
    if (!isMemberId(member.id))
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Invalid member id ${JSON.stringify(member.id)}: ${MEMBER_ID_RULE}.`,
      );
    if (this.#members.has(member.id))
      throw new AtmosphereError('CONFLICT', `Member id ${member.id} is already in room ${this.name}.`);
    const metadata = checkedMetadata(member.metadata, member.id);
    const state: MemberState = {
      member: Object.freeze({ id: member.id, metadata }),
      connections: new Set(),
      joinedAt: Date.now(),
      context: undefined,
      announced: false,
    };
    const context = new VirtualContext(this, this, state.member, member);
    state.context = context;
    this.#members.set(member.id, state);
    this.#virtuals.add(state);
    this.#delivery.submit({ kind: 'presence', action: 'join', state, reason: 'left' });
    return context;
  }

  /** Removes a virtual member (by id or by the object passed to `joinVirtual`). Returns false if absent. */
  leaveVirtual(member: VirtualRoomMember | string): boolean {
    const id = typeof member === 'string' ? member : member.id;
    const state = this.#members.get(id);
    if (state?.context === undefined) return false;
    this.#removeMember(state, 'left');
    return true;
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
    const closing = errorFrame(this.name, 'Room closed');
    for (const { resource } of this.#connections.values()) {
      this.#broadcaster.removeResource(resource);
      this.#host.connectionLeft(resource, this);
      if (resource.state !== 'closed') resource.write(closing);
    }
    const listeners = this.#listeners;
    for (const state of this.#members.values()) {
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
    this.#connections.clear();
    this.#members.clear();
    this.#virtuals.clear();
    this.#listeners = [];
    this.#delivery.history = undefined;
    if (this.#host.broadcasters.find(this.broadcasterId) === this.#broadcaster)
      this.#host.broadcasters.destroy(this.broadcasterId);
    this.#host.roomDestroyed(this);
  }

  #assertOpen(): void {
    if (this.#destroyed) throw closedError(this.name);
  }
}

/** Metadata is shown to every member as JSON: it must be a JSON object. Frozen (shallowly) once checked. */
function checkedMetadata(metadata: RoomMetadata | undefined, id: string): RoomMetadata {
  if (metadata === undefined) return EMPTY_METADATA;
  let json: string | undefined;
  try {
    json =
      typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata)
        ? JSON.stringify(metadata)
        : undefined;
  } catch {
    json = undefined;
  }
  if (json === undefined)
    throw new AtmosphereError('BAD_REQUEST', `The metadata of member ${id} must be a JSON object.`);
  return Object.freeze({ ...metadata });
}

function closedError(room: string): AtmosphereError {
  return new AtmosphereError('CLOSED', `Room ${room} was destroyed.`);
}
