import type { RoomMember, RoomMetadata } from '@atmosphere/protocol';
import type { Atmosphere, AtmosphereResource, Logger } from '@atmosphere/runtime';

export type { RoomMember, RoomMetadata };

/** What the server knows about a member beyond what members see. */
export interface RoomMemberInfo extends RoomMember {
  /** True for a server-side member ({@link VirtualRoomMember}). */
  readonly virtual: boolean;
  /** How many connections the member is present through (0 for a virtual member). */
  readonly connections: number;
  /** When the member joined (ms since epoch). */
  readonly joinedAt: number;
}

/** A message said in a room, as virtual members and `history()` see it. */
export interface RoomMessage {
  readonly room: string;
  /** The history id: set when the room keeps history and the message is a broadcast. */
  readonly id?: number;
  /** The member who said it; absent for a message the server broadcast without a sender. */
  readonly from?: string;
  /** The payload, as the sender gave it (any JSON value). */
  readonly data: unknown;
  /** Set on a direct message: the member it is addressed to. */
  readonly to?: string;
}

/** Why a member left a room. */
export type LeaveReason =
  /** It left: a `leave` frame, `room.leave()`, `leaveVirtual()`. */
  | 'left'
  /** Its last connection closed (a deliberate close, the server closing it, or the idle timeout). */
  | 'disconnected'
  /** Its last connection was lost and did not come back within the reconnect grace period. */
  | 'timeout'
  /** The server removed it (`room.leave(memberId)`). */
  | 'removed'
  /** The room was destroyed. */
  | 'room-destroyed'
  /** In a cluster: the node it was connected to stopped (killed, hung, cut from the cluster state) and its lease expired. */
  | 'node-lost';

/** A member arrived or left. Delivered to `onPresence` listeners and virtual members in room order. */
export type PresenceEvent =
  | { readonly room: string; readonly action: 'join'; readonly member: RoomMember; readonly virtual: boolean }
  | {
      readonly room: string;
      readonly action: 'leave';
      readonly member: RoomMember;
      readonly virtual: boolean;
      readonly reason: LeaveReason;
    };

/** Listens to a room's presence events; must not throw (a throw is logged and ignored). */
export type PresenceListener = (event: PresenceEvent) => void;

/**
 * Who says a message: a connection that joined the room (that connection does not receive its own message;
 * the member's other connections do), or a member id (a virtual member does not receive its own message).
 */
export type RoomSender = AtmosphereResource | string;

/**
 * What a virtual member (and any code handed a room by one) sees of its room: who is there, what was said,
 * and how to say something. The {@link Room} class is the whole API.
 */
export interface RoomView {
  readonly name: string;
  /** The Atmosphere instance the room lives on (its providers, its broadcasters). */
  readonly atmosphere: Atmosphere;
  readonly logger: Logger;
  /** Number of members (a member with several connections counts once; virtual members count). */
  readonly size: number;
  /** The members, in join order. */
  members(): RoomMember[];
  /**
   * Every member of the room: on a single node `members()`; in a cluster, this node's members then those only
   * other nodes hold (the list a `join_ack` gives).
   */
  clusterMembers(): RoomMember[];
  /** A member by id. */
  member(id: string): RoomMember | undefined;
  /** Every member with what the server knows of it, by id. */
  memberInfo(): Map<string, RoomMemberInfo>;
  /** Remembered messages after `sinceId` (all when omitted), oldest first. */
  history(sinceId?: number): RoomMessage[];
  /** Says `data` to the room (see `Room.broadcast`). */
  broadcast(data: unknown, sender?: RoomSender): Promise<RoomMessage>;
  /** Sends `data` to one member (see `Room.sendTo`). */
  sendTo(memberId: string, data: unknown, from?: string): Promise<boolean>;
  /** Removes a virtual member; false when absent. */
  leaveVirtual(member: string): boolean;
}
