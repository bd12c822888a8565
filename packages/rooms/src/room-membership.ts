import { atmosphereJsPresenceFrame, isMemberId, MEMBER_ID_RULE, presenceFrame } from '@atmosphere/protocol';
import { AtmosphereError, type AtmosphereResource, type Broadcaster } from '@atmosphere/runtime';
import type { MemberState, RoomDelivery } from './room-delivery.ts';
import type { LeaveReason, RoomMember, RoomMemberInfo, RoomMetadata, RoomView } from './types.ts';
import { VirtualContext, type VirtualHost } from './virtual-context.ts';
import type { VirtualMemberContext, VirtualRoomMember } from './virtual-member.ts';

const EMPTY_METADATA: RoomMetadata = Object.freeze({});

/** @internal What a room's membership needs from the room. */
export interface MembershipOwner {
  readonly name: string;
  readonly broadcaster: Broadcaster;
  /** The room's atmosphere.js-dialect broadcaster, once it exists. */
  jsBroadcaster(): Broadcaster | undefined;
  /** Whether a connection speaks the atmosphere.js 5 dialect. */
  speaksAtmosphereJs(resource: AtmosphereResource): boolean;
  readonly delivery: RoomDelivery;
  /** The room, as its virtual members see it. */
  readonly room: RoomView;
  /** What a virtual member's context needs of the room. */
  readonly host: VirtualHost;
  /** Throws `CLOSED` once the room was destroyed. */
  assertOpen(): void;
  /** A connection joined as `member` (its manager watches it for disconnects). */
  connectionJoined(resource: AtmosphereResource, member: RoomMember): void;
  /** A connection left, for `reason`. */
  connectionLeft(resource: AtmosphereResource, reason: LeaveReason): void;
  /** The last member left (a room that is not persistent then goes). */
  lastMemberLeft(): void;
}

/** @internal One connection in the room, and the member it is. */
export interface ConnectionEntry {
  readonly resource: AtmosphereResource;
  readonly state: MemberState;
}

/**
 * @internal Who is in a room: members by id (several connections per member), the connections, the virtual
 * members. Joins and leaves announce themselves through the room's delivery, in room order.
 */
export class RoomMembership {
  readonly byId = new Map<string, MemberState>();
  readonly connections = new Map<string, ConnectionEntry>();
  readonly virtuals = new Set<MemberState>();
  readonly #owner: MembershipOwner;

  constructor(owner: MembershipOwner) {
    this.#owner = owner;
  }

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
    this.#owner.assertOpen();
    if (resource.state === 'closed')
      throw new AtmosphereError(
        'CLOSED',
        `Resource ${resource.id} is closed and cannot join room ${this.#owner.name}.`,
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
    const current = this.connections.get(resource.id);
    if (current !== undefined) {
      if (current.resource !== resource) {
        this.removeConnection(current.resource, 'disconnected', false);
      } else if (current.state.member.id !== id) {
        throw new AtmosphereError(
          'CONFLICT',
          `This connection is in room ${this.#owner.name} as ${current.state.member.id}; leave first.`,
        );
      } else {
        this.#owner.delivery.submit({ kind: 'subscribe', resource, state: current.state, sinceId });
        return current.state.member;
      }
    }
    let state = this.byId.get(id);
    if (state?.context !== undefined)
      throw new AtmosphereError(
        'CONFLICT',
        `Member id ${id} belongs to a virtual member of room ${this.#owner.name}.`,
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
      this.byId.set(id, state);
    }
    state.connections.add(resource);
    this.connections.set(resource.id, { resource, state });
    this.#owner.connectionJoined(resource, state.member);
    this.#owner.delivery.submit({ kind: 'subscribe', resource, state, sinceId });
    return state.member;
  }

  /**
   * Removes a connection (its member leaves when it was the member's last connection), or, given a member id,
   * the member with all its connections (each removed connection is sent a `presence` leave about itself so
   * it knows it is out) or the virtual member. Returns false when there was nothing to remove.
   */
  leave(who: AtmosphereResource | string): boolean {
    if (typeof who !== 'string') return this.removeConnection(who, 'left', false);
    const state = this.byId.get(who);
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
    const entry = this.connections.get(resource.id);
    if (entry === undefined || entry.resource !== resource) return false;
    const state = entry.state;
    this.connections.delete(resource.id);
    state.connections.delete(resource);
    this.#owner.broadcaster.removeResource(resource);
    this.#owner.jsBroadcaster()?.removeResource(resource);
    this.#owner.connectionLeft(resource, reason);
    if (notifySelf && resource.state !== 'closed')
      resource.write(
        (this.#owner.speaksAtmosphereJs(resource) ? atmosphereJsPresenceFrame : presenceFrame)(
          this.#owner.name,
          'leave',
          state.member,
        ),
      );
    if (state.connections.size === 0) this.removeMember(state, reason);
    return true;
  }

  /** @internal A member is gone: its presence leave goes out, a virtual member is told. */
  removeMember(state: MemberState, reason: LeaveReason): void {
    if (this.byId.get(state.member.id) !== state) return;
    this.byId.delete(state.member.id);
    if (state.context !== undefined) {
      this.virtuals.delete(state);
      state.context.close(reason);
    }
    this.#owner.delivery.submit({ kind: 'presence', action: 'leave', state, reason });
    if (this.byId.size === 0) this.#owner.lastMemberLeft();
  }

  /** The members, in join order. */
  members(): RoomMember[] {
    return Array.from(this.byId.values(), (state) => state.member);
  }

  /** A member by id. */
  member(id: string): RoomMember | undefined {
    return this.byId.get(id)?.member;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  /** Every member with what the server knows of it, by id. */
  memberInfo(): Map<string, RoomMemberInfo> {
    const info = new Map<string, RoomMemberInfo>();
    for (const [id, state] of this.byId) {
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
    const entry = this.connections.get(resource.id);
    return entry !== undefined && entry.resource === resource ? entry.state.member : undefined;
  }

  /** The connections in the room. */
  resources(): AtmosphereResource[] {
    return Array.from(this.connections.values(), (entry) => entry.resource);
  }

  /**
   * Seats a server-side member. It is announced (`presence` join to every connection, `onPresence` elsewhere),
   * listed in `join_ack`s, receives every room message through `onMessage`, and acts through the returned
   * context. Throws `BAD_REQUEST` for an invalid id, `CONFLICT` when the id is taken, `CLOSED` after `destroy()`.
   */
  joinVirtual(member: VirtualRoomMember): VirtualMemberContext {
    this.#owner.assertOpen();
    if (!isMemberId(member.id))
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Invalid member id ${JSON.stringify(member.id)}: ${MEMBER_ID_RULE}.`,
      );
    if (this.byId.has(member.id))
      throw new AtmosphereError('CONFLICT', `Member id ${member.id} is already in room ${this.#owner.name}.`);
    const metadata = checkedMetadata(member.metadata, member.id);
    const state: MemberState = {
      member: Object.freeze({ id: member.id, metadata }),
      connections: new Set(),
      joinedAt: Date.now(),
      context: undefined,
      announced: false,
    };
    const context = new VirtualContext(this.#owner.room, this.#owner.host, state.member, member);
    state.context = context;
    this.byId.set(member.id, state);
    this.virtuals.add(state);
    this.#owner.delivery.submit({ kind: 'presence', action: 'join', state, reason: 'left' });
    return context;
  }

  /** Removes a virtual member (by id or by the object passed to `joinVirtual`). Returns false if absent. */
  leaveVirtual(member: VirtualRoomMember | string): boolean {
    const id = typeof member === 'string' ? member : member.id;
    const state = this.byId.get(id);
    if (state?.context === undefined) return false;
    this.removeMember(state, 'left');
    return true;
  }

  /** Forgets everyone (the room is being destroyed); returns who was there. */
  clear(): { connections: ConnectionEntry[]; members: MemberState[] } {
    const taken = { connections: [...this.connections.values()], members: [...this.byId.values()] };
    this.connections.clear();
    this.byId.clear();
    this.virtuals.clear();
    return taken;
  }
}

/** Metadata is shown to every member as JSON: it must be a JSON object. Frozen (shallowly) once checked. */
export function checkedMetadata(metadata: RoomMetadata | undefined, id: string): RoomMetadata {
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
