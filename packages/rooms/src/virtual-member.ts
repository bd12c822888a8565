import type { AiRole } from '@atmosphere/protocol';
import type { AtmosphereResource } from '@atmosphere/runtime';
import type { LeaveReason, PresenceEvent, RoomMember, RoomMessage, RoomMetadata, RoomView } from './types.ts';

/**
 * A server-side member of a room: a bot, an AI assistant (`LlmRoomMember` in `@atmosphere/ai/rooms`), a
 * bridge. It is listed, announced and addressed like any member, but has no connection: the room calls it.
 *
 * Hooks run in room order (the order every connection sees), synchronously; they are not awaited, so a member
 * that answers slowly (an LLM call) keeps receiving messages meanwhile and does its own queueing. A throw or a
 * rejected promise is logged and does not affect the room.
 */
export interface VirtualRoomMember {
  /** The member id (1-128 characters of `A-Z a-z 0-9 _ . : @ + -`); unique in the room, connections included. */
  readonly id: string;
  /** Shown to every member (`join_ack`, `presence`). Default `{}`. */
  readonly metadata?: RoomMetadata;
  /**
   * Every message said in the room — broadcasts from connections, other virtual members and the server, in
   * room order — except its own, plus direct messages addressed to it (`message.to` set).
   */
  onMessage(message: RoomMessage, context: VirtualMemberContext): void | Promise<void>;
  /** Another member joined or left. */
  onPresence?(event: PresenceEvent, context: VirtualMemberContext): void;
  /** It joined the room (after its own presence `join` went out): a good place to greet. */
  onJoin?(context: VirtualMemberContext): void;
  /** It left the room, or the room was destroyed; `context.signal` is already aborted. */
  onLeave?(context: VirtualMemberContext, reason: LeaveReason): void;
  /**
   * Turn control (an AI member): the role of a connection towards this member's answers — what it may do to
   * them (`viewer` only follows; every other role may stop and steer). Asked once per connection, when the
   * connection joins the room (or this member joins); the connection is told (`ai-role` frame, after its
   * `join_ack`). A throw or an unknown answer gives `viewer`. Without this hook no role is sent and every
   * `stop`/`steer` reaches `onTurn` as from an `owner`.
   */
  roleOf?(connection: RoomConnection, context: VirtualMemberContext): AiRole;
  /**
   * Turn control: a member connection's `stop`, `steer` or `approval` addressed to this member, its role
   * already checked (a `viewer`'s never reaches here; an `approval` only from an `approver` or `owner`; without
   * a `roleOf` hook everyone is `owner`). Return nothing when taken, or a refusal: the connection gets an `error`
   * frame with its code and reason. Synchronous, and called at once (not in room order), so a stop is quick.
   * Without this hook such frames are refused (`NOT_FOUND`).
   */
  onTurn?(turn: RoomTurn, context: VirtualMemberContext): RoomTurnRefusal | undefined;
  /**
   * Turn control across the nodes of a cluster: where the answer `turn` means is. A member seated on every
   * node answers each message on one of them; a turn sent to another node is routed (through the cluster
   * state) to the node where this hook says `here`, and `onTurn` is called there. Without this hook turns are
   * taken by the node that receives them, as on a single node. Synchronous; a throw counts as `unknown`.
   */
  locateTurn?(turn: RoomTurn, context: VirtualMemberContext): RoomTurnPlace;
  /**
   * Telemetry (an AI member): a member connection's paint timing report about one of this member's answers
   * (`{"type":"timing",…,"report":"/__timing/<sessionId> …"}`, PROTOCOL.md §8), as the client sent it — unread,
   * possibly hostile: the member reads it (`parseTimingMessage`), joins it to the answer's run or refuses it
   * whole, and never answers it. Called at once (not in room order), on the node the connection is on — or, in a
   * cluster, on the node whose `locateTiming` says the answer is there (then `connection.node` names the
   * connection's node and `connection.resource` is undefined). Without this hook such reports are dropped.
   */
  onTiming?(report: string, connection: RoomTimingSource, context: VirtualMemberContext): void;
  /**
   * Paint timing across the nodes of a cluster: whether the answer `sessionId` (the run a report names) ran on
   * this node — `here` — or not (`unknown`). A report that reaches a node where it is not `here` is routed
   * (through the cluster state) to the other nodes seating the member and handed to `onTiming` where it is;
   * when no node has it, the node that received it hands it to its own `onTiming` (which refuses it). Without
   * this hook reports go to the copy on the connection's node, as on a single node. Synchronous; a throw counts
   * as `unknown`.
   */
  locateTiming?(sessionId: string, context: VirtualMemberContext): 'here' | 'unknown';
}

/**
 * The connection a paint timing report comes from (`onTiming`): on this node (`resource` set), or on another
 * node of the cluster that routed the report here (`node` set, no `resource`).
 */
export interface RoomTimingSource {
  /** The member it joined as. */
  readonly member: RoomMember;
  /** The connection's id (`resource.id` on its node). */
  readonly resourceId: string;
  /** The connection, when it is on this node. */
  readonly resource?: AtmosphereResource;
  /** The node of the connection, when another node routed the report here. */
  readonly node?: string;
}

/** A connection of a room member, as `roleOf` sees it. */
export interface RoomConnection {
  /** The member it joined as. */
  readonly member: RoomMember;
  /** The connection; `resource.principal` is what the auth interceptor established. */
  readonly resource: AtmosphereResource;
}

/**
 * A `stop`, `steer` or `approval` frame addressed to a virtual member (PROTOCOL.md §8, turns). `sessionId`, when
 * the client named one, is the answer it means: a turn meant for an answer that already ended changes nothing.
 *
 * In a cluster the turn may come from a connection of another node (the member is seated on every node and
 * the answer runs on the one that claimed its question): then `resource` is undefined and `node` names the
 * node of the connection, whose role that node checked with the same `roleOf` hook.
 */
export type RoomTurn = {
  /** The member whose connection sent it. */
  readonly member: RoomMember;
  /** The connection that sent it; undefined when it is on another node of the cluster (`node`). */
  readonly resource: AtmosphereResource | undefined;
  /** The node of the connection when it is not this one. */
  readonly node: string | undefined;
  readonly role: AiRole;
} & (
  | { readonly action: 'stop'; readonly sessionId: string | undefined }
  | {
      readonly action: 'steer';
      readonly sessionId: string | undefined;
      /** The client's id for the guidance, echoed by the `steer` events that acknowledge it. */
      readonly steerId: string;
      readonly text: string;
    }
  | {
      /** The answer to a tool approval of the member (its `approval-required` event); only from an approver or owner. */
      readonly action: 'approval';
      readonly approvalId: string;
      readonly approved: boolean;
      /** Edited arguments, with an approval. */
      readonly arguments: Readonly<Record<string, unknown>> | undefined;
    }
);

/**
 * Where the answer a turn means is, as one node sees it (`locateTurn`): `here` (it runs on this node),
 * `ended` (it ran here and is over: the turn and the end crossed), `unknown` (not on this node).
 */
export type RoomTurnPlace = 'here' | 'ended' | 'unknown';

/** Why a turn was refused: sent to the connection as `{"type":"error","room":…,"data":reason,"code":code}`. */
export interface RoomTurnRefusal {
  readonly code: string;
  readonly reason: string;
}

/**
 * What a virtual member can do in one room it joined (`room.joinVirtual()` returns it; every hook gets it).
 * Everything it sends is ordered with the rest of the room's traffic: every connection sees the same frames
 * in the same order. Calls after it left reject with `CLOSED`.
 */
export interface VirtualMemberContext {
  /** The room it is in. */
  readonly room: RoomView;
  readonly member: RoomMember;
  /** Aborted when the member leaves or the room is destroyed: pass it to upstream calls (LLM requests). */
  readonly signal: AbortSignal;
  /** True until it leaves. */
  readonly active: boolean;
  /**
   * Says `data` to the room as a `message` from this member: every connection receives it, it gets a history
   * id when the room keeps history (so late joiners replay it), other virtual members' `onMessage` see it.
   * Resolves with the message once queued for every recipient.
   */
  say(data: unknown): Promise<RoomMessage>;
  /** A direct `message` from this member to one member (all its connections). Resolves false if absent. */
  sendTo(memberId: string, data: unknown): Promise<boolean>;
  /**
   * Broadcasts a raw frame to every connection of the room — an AI frame (`{"type":"streaming-text",…}`,
   * PROTOCOL.md §7) as `StreamingSession` serialises it. A JSON object text is tagged with the room and the
   * member (`{"room":"lobby","from":"ai",…}`, no parse, one string per frame) so a connection in several rooms
   * can route it; other strings go as they are. `{ tag: false }` sends every frame byte for byte. Not kept in
   * history, not shown to virtual members. Frames keep their order relative to each other and to every other
   * room message.
   */
  broadcastFrame(frame: string, options?: { tag?: boolean }): Promise<void>;
  /**
   * Tells every connection of the room what the room's stream could not carry — a reply `say()` could not keep
   * because the room's log refused it: `{"type":"error","room":…,"data":reason,"code":code,…details,"memberId":<this member>}`
   * written straight to each connection in the room, on every node of a cluster (through the cluster state),
   * outside the room's stream: no broadcaster, no log, no history — it needs neither to get through. A connection
   * that is cut keeps it queued like any message to it; one that joins later never sees it. Rejects when the
   * cluster state refused to carry it to the other nodes, and with `MESSAGE_TOO_LARGE` when the frame is longer
   * than the 8 192 characters other nodes take (this node's connections have it either way).
   */
  sendError(code: string, reason: string, details?: Readonly<Record<string, string | number>>): Promise<void>;
  /** Shows (`true`) or clears (`false`) this member's typing indicator for every connection. */
  typing(typing: boolean): Promise<void>;
  /** Leaves the room (same as `room.leaveVirtual(member.id)`). */
  leave(): void;
  /**
   * Claims a room message for this member across the nodes of a cluster, so that a member seated on every node
   * (an AI member) acts on each message once: true on exactly one node per message. On a single node, and for
   * a direct message, it is `true` at once (no promise); false after the member left.
   */
  claim(message: RoomMessage): boolean | Promise<boolean>;
  /**
   * Marks an answer of this member (`sessionId`) as running on this node until the returned function is called
   * (once it ended and its reply was said). In a cluster it is held in the cluster state under this node's
   * lease: should the node die first (its lease expires), one other node tells every connection of the room,
   * on every node, that the answer was interrupted — a room `error` frame with code `INTERRUPTED`, its
   * `sessionId` and this member's id — so that no client waits for an end that will not come. `onLost` is
   * called when this node learns that its lease expired while the answer ran (another node has then said it
   * was interrupted): the member should stop it. A no-op on a single node.
   */
  running(sessionId: string, onLost?: () => void): () => void;
}
