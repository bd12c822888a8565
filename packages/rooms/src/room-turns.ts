import {
  AI_ROLES,
  type AiRole,
  MEMBER_ID_PATTERN,
  mayApprove,
  mayControlTurns,
  parseTimingMessage,
  type RoomCommand,
  roomRoleFrame,
} from '@atmosphere/protocol';
import type { AtmosphereResource, Broadcaster, Logger } from '@atmosphere/runtime';
import type { RoutedTurn, RoutedTurnReply } from './room-cluster.ts';
import type { RoomMember } from './types.ts';
import type { VirtualContext } from './virtual-context.ts';
import type { RoomTimingSource, RoomTurn, RoomTurnPlace, RoomTurnRefusal } from './virtual-member.ts';

/** @internal What turn control needs from its room. */
export interface TurnsOwner {
  readonly name: string;
  readonly logger: Logger;
  readonly broadcaster: Broadcaster;
  /** The context of a virtual member present in the room. */
  virtual(id: string): VirtualContext | undefined;
  /** The virtual members present. */
  virtuals(): Iterable<VirtualContext>;
  /** The member a connection is in the room as. */
  memberOf(resource: AtmosphereResource): RoomMember | undefined;
  /** The connections in the room, with the member each joined as. */
  connections(): Iterable<{ readonly resource: AtmosphereResource; readonly member: RoomMember }>;
  /** Whether a connection speaks the atmosphere.js 5 dialect (which has no roles). */
  speaksAtmosphereJs(resource: AtmosphereResource): boolean;
  /** Runs `task` in room order (after everything queued before it, such as a `join_ack`). */
  inOrder(task: () => void): void;
  /** The other nodes of the cluster where virtual member `id` is seated (none on a single node). */
  seatedElsewhere(id: string): readonly string[];
  /** Asks those nodes to take a turn; resolves with their replies (never rejects). */
  routeTurn(turn: RoutedTurn, nodes: readonly string[]): Promise<RoutedTurnReply[]>;
}

type TurnCommand = Extract<RoomCommand, { type: 'stop' | 'steer' | 'approval' }>;

/** The turn a command asks for. */
function turnOf(
  command: TurnCommand,
  member: RoomMember,
  resource: AtmosphereResource | undefined,
  node: string | undefined,
  role: AiRole,
): RoomTurn {
  const base = { member, resource, node, role };
  switch (command.type) {
    case 'stop':
      return { ...base, action: 'stop', sessionId: command.sessionId };
    case 'steer':
      return {
        ...base,
        action: 'steer',
        sessionId: command.sessionId,
        steerId: command.steerId,
        text: command.text,
      };
    case 'approval':
      return {
        ...base,
        action: 'approval',
        approvalId: command.approvalId,
        approved: command.approved,
        arguments: command.arguments,
      };
  }
}

/** The member a request routed from another node names, checked again (it came over the wire). */
function routedMember(raw: Record<string, unknown>): RoomMember | undefined {
  const who = (raw['member'] ?? {}) as Partial<RoomMember>;
  if (typeof who.id !== 'string' || !MEMBER_ID_PATTERN.test(who.id)) return undefined;
  const metadata = who.metadata;
  return {
    id: who.id,
    metadata: typeof metadata === 'object' && metadata !== null && !Array.isArray(metadata) ? metadata : {},
  };
}

/** A turn routed from `node`, checked again (it came over the wire): undefined when it is not one or not allowed. */
function routedTurn(request: RoutedTurn, node: string): RoomTurn | undefined {
  const raw = request as unknown as Record<string, unknown>;
  const role = raw['role'];
  if (!AI_ROLES.includes(role as AiRole)) return undefined;
  const member = routedMember(raw);
  if (member === undefined) return undefined;
  const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
  // Ids as the rooms dialect has them (another node's data is checked like a client's).
  const id = (key: string, max: number): string | undefined => {
    const value = text(key);
    return value !== undefined && value.length <= max && /^[A-Za-z0-9_-]+$/.test(value) ? value : undefined;
  };
  const sessionId = raw['sessionId'];
  if (
    sessionId !== undefined &&
    !(typeof sessionId === 'string' && sessionId !== '' && sessionId.length <= 128)
  )
    return undefined;
  const room = '';
  let command: TurnCommand;
  switch (raw['action']) {
    case 'stop':
      command = { type: 'stop', room, memberId: '', sessionId: text('sessionId') };
      break;
    case 'steer': {
      const steerId = id('steerId', 64);
      const guidance = text('text');
      if (steerId === undefined || guidance === undefined) return undefined;
      command = { type: 'steer', room, memberId: '', steerId, text: guidance, sessionId: text('sessionId') };
      break;
    }
    case 'approval': {
      const approvalId = id('approvalId', 128);
      const edited = raw['arguments'];
      if (approvalId === undefined || typeof raw['approved'] !== 'boolean') return undefined;
      command = {
        type: 'approval',
        room,
        memberId: '',
        approvalId,
        approved: raw['approved'],
        arguments:
          typeof edited === 'object' && edited !== null && !Array.isArray(edited)
            ? (edited as Record<string, unknown>)
            : undefined,
      };
      break;
    }
    default:
      return undefined;
  }
  if (command.type === 'approval' ? !mayApprove(role as AiRole) : !mayControlTurns(role as AiRole))
    return undefined;
  return turnOf(command, member, undefined, node, role as AiRole);
}

/**
 * @internal Turn control of a room's virtual members (PROTOCOL.md §8, turns): the role of every connection
 * towards every virtual member that has a `roleOf` hook, decided when either joins and told to the connection
 * (`ai-role`, after its `join_ack`); and the `stop` and `steer` frames, checked against that role before the
 * member's `onTurn` sees them.
 */
export class RoomTurns {
  readonly #owner: TurnsOwner;
  /** Connection id → virtual member id → role (a virtual member that left is no longer asked about). */
  readonly #roles = new Map<string, Map<string, AiRole>>();

  constructor(owner: TurnsOwner) {
    this.#owner = owner;
  }

  /** A connection joined (or re-joined) as `member`: its roles are decided and sent after its `join_ack`. */
  connectionJoined(resource: AtmosphereResource, member: RoomMember): void {
    this.#owner.inOrder(() => {
      if (this.#owner.memberOf(resource) !== member) return;
      for (const context of this.#owner.virtuals()) this.#decide(resource, member, context);
    });
  }

  /** A connection left: its roles are forgotten. */
  connectionLeft(resource: AtmosphereResource): void {
    this.#roles.delete(resource.id);
  }

  /** A virtual member joined: every connection's role towards it is decided and sent. */
  virtualJoined(context: VirtualContext): void {
    if (context.implementation.roleOf === undefined) return;
    this.#owner.inOrder(() => {
      if (!context.active) return;
      for (const { resource, member } of this.#owner.connections()) this.#decide(resource, member, context);
    });
  }

  /** The role of a connection towards a virtual member (`owner` when the member decides nothing). */
  roleOf(resource: AtmosphereResource, memberId: string): AiRole | undefined {
    return this.#roles.get(resource.id)?.get(memberId);
  }

  /**
   * A `stop`, `steer` or `approval` from a connection of `member` (an approval only from an `approver` or
   * `owner`). Returns undefined when the virtual member took it, or the
   * refusal to answer with an `error` frame (nothing changed) — a promise of either when the turn was routed to
   * the other nodes of a cluster that seat the member (the answer runs on one of them).
   */
  control(
    resource: AtmosphereResource,
    member: RoomMember,
    command: TurnCommand,
  ): RoomTurnRefusal | undefined | Promise<RoomTurnRefusal | undefined> {
    const room = this.#owner.name;
    const context = this.#owner.virtual(command.memberId);
    if (context?.implementation.onTurn === undefined) {
      return {
        code: 'NOT_FOUND',
        reason: `${command.memberId} is not an AI member of room ${room} on this server; nothing to ${command.type}.`,
      };
    }
    const role =
      context.implementation.roleOf === undefined
        ? 'owner'
        : (this.roleOf(resource, command.memberId) ?? this.#decide(resource, member, context));
    if (command.type === 'approval' ? !mayApprove(role) : !mayControlTurns(role)) {
      return {
        code: 'FORBIDDEN',
        reason:
          command.type === 'approval'
            ? `This connection's role (${role}) may not answer the approvals of ${command.memberId} in room ${room} (approvers and owners may).`
            : `This connection's role (${role}) may not ${command.type} the answers of ${command.memberId} in room ${room}.`,
      };
    }
    const turn = turnOf(command, member, resource, undefined, role);
    // Seated on other nodes too (a cluster), the answer meant may run on one of them: routed there.
    const elsewhere = this.#owner.seatedElsewhere(command.memberId);
    if (elsewhere.length === 0 || context.implementation.locateTurn === undefined)
      return this.#take(turn, context);
    const here = this.#locate(turn, context);
    if (here === 'here') return this.#take(turn, context);
    const { resource: _resource, node: _node, member: who, ...rest } = turn;
    const routed: RoutedTurn = {
      ...rest,
      memberId: command.memberId,
      member: { id: who.id, metadata: who.metadata },
    };
    return this.#owner.routeTurn(routed, elsewhere).then((replies) => {
      if (replies.includes('taken')) return undefined;
      for (const reply of replies) if (typeof reply === 'object') return reply;
      const ended = here === 'ended' || replies.includes('ended');
      if (turn.action === 'approval') {
        return {
          code: 'UNKNOWN_APPROVAL',
          reason: ended
            ? `The approval ${turn.approvalId} of ${command.memberId} was answered already or expired (a timeout denies it).`
            : `No server of the cluster has a pending approval ${turn.approvalId} of ${command.memberId} in room ${room}.`,
        };
      }
      if (!context.active)
        return {
          code: 'NOT_FOUND',
          reason: `${command.memberId} left room ${room} while the ${command.type} was on its way; nothing to ${command.type}.`,
        };
      if (ended || turn.sessionId === undefined)
        // Over, or no answer named: this node's copy says what is true everywhere (nothing runs).
        return this.#take(turn, context);
      return {
        code: 'UNKNOWN_RUN',
        reason: `No server of the cluster runs the answer ${turn.sessionId.slice(0, 64)} of ${command.memberId} in room ${room}; nothing to ${command.type}.`,
      };
    });
  }

  /**
   * A paint timing report from a connection of `member` about virtual member `memberId`'s answers (telemetry:
   * no role, no answer): to the member's `onTiming` on this node, or — in a cluster, when its `locateTiming`
   * says the answer the report names did not run here — routed to the other nodes seating the member and
   * handed to the copy where it ran; to this node's copy (which refuses it) when none has it.
   */
  timing(resource: AtmosphereResource, member: RoomMember, memberId: string, report: string): void {
    const context = this.#owner.virtual(memberId);
    if (context?.implementation.onTiming === undefined) return;
    const source: RoomTimingSource = { member, resource, resourceId: resource.id };
    const elsewhere =
      context.implementation.locateTiming === undefined ? [] : this.#owner.seatedElsewhere(memberId);
    const parsed = elsewhere.length === 0 ? undefined : parseTimingMessage(report);
    // A single node, a malformed report (refused here) or an answer that ran here: this node's copy.
    if (
      parsed === undefined ||
      'reason' in parsed ||
      this.#locateTiming(parsed.report.runId, context) === 'here'
    ) {
      context.timing(report, source);
      return;
    }
    const routed: RoutedTurn = {
      memberId,
      member: { id: member.id, metadata: member.metadata },
      role: 'viewer',
      action: 'timing',
      report,
      resourceId: resource.id,
    };
    void this.#owner.routeTurn(routed, elsewhere).then((replies) => {
      if (!replies.includes('taken') && context.active) context.timing(report, source);
    });
  }

  /**
   * A turn another node routed here (its connection's role checked there): taken when the answer it means runs
   * here, else where it stands. A routed paint timing report is handed to `onTiming` when its answer ran here.
   */
  routed(request: RoutedTurn, node: string): RoutedTurnReply {
    if (request.action === 'timing') return this.#routedTiming(request, node);
    const context = this.#owner.virtual(String(request.memberId));
    if (context?.implementation.onTurn === undefined || context.implementation.locateTurn === undefined)
      return 'unknown';
    const turn = routedTurn(request, node);
    if (turn === undefined) return 'unknown';
    const place = this.#locate(turn, context);
    if (place !== 'here') return place;
    return this.#take(turn, context) ?? 'taken';
  }

  /** A paint timing report another node routed here: `taken` when its answer ran here, else `unknown`. */
  #routedTiming(request: RoutedTurn, node: string): RoutedTurnReply {
    const raw = request as unknown as Record<string, unknown>;
    const context = this.#owner.virtual(String(request.memberId));
    const { report, resourceId } = raw;
    const member = routedMember(raw);
    if (
      context?.implementation.onTiming === undefined ||
      member === undefined ||
      typeof report !== 'string' ||
      typeof resourceId !== 'string' ||
      resourceId === '' ||
      resourceId.length > 128
    )
      return 'unknown';
    const parsed = parseTimingMessage(report);
    if ('reason' in parsed || this.#locateTiming(parsed.report.runId, context) !== 'here') return 'unknown';
    context.timing(report, { member, resourceId, node });
    return 'taken';
  }

  #locateTiming(sessionId: string, context: VirtualContext): 'here' | 'unknown' {
    try {
      return context.implementation.locateTiming?.(sessionId, context) === 'here' ? 'here' : 'unknown';
    } catch (error) {
      this.#owner.logger.error(
        `room ${this.#owner.name}: virtual member ${context.member.id} locateTiming threw`,
        { error },
      );
      return 'unknown';
    }
  }

  #locate(turn: RoomTurn, context: VirtualContext): RoomTurnPlace {
    try {
      const place = context.implementation.locateTurn?.(turn, context);
      return place === 'here' || place === 'ended' ? place : 'unknown';
    } catch (error) {
      this.#owner.logger.error(
        `room ${this.#owner.name}: virtual member ${context.member.id} locateTurn threw`,
        { error },
      );
      return 'unknown';
    }
  }

  #take(turn: RoomTurn, context: VirtualContext): RoomTurnRefusal | undefined {
    try {
      return context.implementation.onTurn?.(turn, context) ?? undefined;
    } catch (error) {
      this.#owner.logger.error(`room ${this.#owner.name}: virtual member ${context.member.id} onTurn threw`, {
        error,
      });
      return { code: 'INTERNAL', reason: `${context.member.id} could not take the ${turn.action}.` };
    }
  }

  /** Asks the member's `roleOf` hook (a throw or an unknown answer gives `viewer`), keeps and sends the role. */
  #decide(resource: AtmosphereResource, member: RoomMember, context: VirtualContext): AiRole {
    const implementation = context.implementation;
    if (implementation.roleOf === undefined) return 'owner';
    let role: AiRole = 'viewer';
    try {
      const decided = implementation.roleOf({ member, resource }, context);
      if (decided === 'viewer' || decided === 'steerer' || decided === 'approver' || decided === 'owner')
        role = decided;
      else
        this.#owner.logger.warn(
          `room ${this.#owner.name}: roleOf of ${context.member.id} returned ${String(decided)}; viewer it is`,
        );
    } catch (error) {
      this.#owner.logger.error(
        `room ${this.#owner.name}: roleOf of ${context.member.id} threw; viewer it is`,
        { error },
      );
    }
    if (resource.state === 'closed') return role;
    let roles = this.#roles.get(resource.id);
    if (roles === undefined) this.#roles.set(resource.id, (roles = new Map<string, AiRole>()));
    roles.set(context.member.id, role);
    if (!this.#owner.speaksAtmosphereJs(resource)) {
      this.#owner.broadcaster
        .broadcast(roomRoleFrame(this.#owner.name, context.member.id, role), { to: resource.id })
        .catch((error: unknown) =>
          this.#owner.logger.error(`room ${this.#owner.name}: the ai-role frame to ${resource.id} failed`, {
            error,
          }),
        );
    }
    return role;
  }
}
