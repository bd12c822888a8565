import {
  AtmosphereError,
  type AtmosphereResource,
  type Logger,
  type ManagedHandler,
} from '@atmosphere/runtime';
import type { RoomAuthorizationRequest, RoomAuthorizer } from './authorizer.ts';
import {
  type CommandLimits,
  parseRoomCommand,
  type RoomCommand,
  roomErrorFrame as errorFrame,
} from '@atmosphere/protocol';
import type { Room } from './room.ts';
import type { SessionMembership } from './room-sessions.ts';
import type { RoomMember } from './types.ts';

/** @internal What the protocol needs from its manager. */
export interface ProtocolHost {
  readonly logger: Logger;
  readonly limits: CommandLimits;
  readonly maxRoomsPerConnection: number;
  readonly authorize: RoomAuthorizer | undefined;
  /** An existing room. */
  find(name: string): Room | undefined;
  /** The room a client joins: the existing one, or a new one when clients may create rooms; else undefined. */
  open(name: string): Room | undefined;
  /** How many rooms a connection is in. */
  roomCount(resource: AtmosphereResource): number;
  /** The connection speaks the atmosphere.js 5 dialect: answer it in that dialect, in every room. */
  speaksAtmosphereJs(resource: AtmosphereResource): void;
  /** The room memberships the connection's session holds (it came back with its token). */
  memberships(resource: AtmosphereResource): SessionMembership[] | Promise<SessionMembership[]>;
  /** Forgets a membership of the connection's session (it was not restored). */
  forget(resource: AtmosphereResource, room: string): void;
}

const NOT_JOINED = 'Not a member of this room';
const UNAUTHORIZED = 'Unauthorized';
/** The error a connection gets for a membership of its session the server did not give back. */
const NOT_RESTORED = 'Membership not restored';

type MemberCommand = Exclude<RoomCommand, { type: 'join' | 'timing' }>;

function isPromise<T>(value: unknown): value is Promise<T> {
  return (
    typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
  );
}

/**
 * @internal The room protocol (PROTOCOL.md §8) on a managed path: validates every client frame, asks the
 * authorizer, applies it. A refused frame gets exactly one `error` frame and changes nothing. Frames of one
 * connection are handled one at a time, in order (the runtime waits for each, asynchronous authorizers too).
 */
export class RoomProtocol {
  readonly #host: ProtocolHost;

  constructor(host: ProtocolHost) {
    this.#host = host;
  }

  /** The managed handler to mount (codec `text`: the protocol parses — and answers bad JSON — itself). */
  handler(): ManagedHandler<unknown> {
    return {
      onReady: (resource) => this.restore(resource),
      onMessage: (message, resource) => this.handle(resource, message),
      onError: (error, resource) => this.#runtimeError(error, resource),
    };
  }

  /** Handles one client frame; never throws, never rejects. */
  handle(resource: AtmosphereResource, payload: unknown): void | Promise<void> {
    if (typeof payload !== 'string')
      return this.#reject(resource, undefined, 'Binary messages are not supported');
    const parsed = parseRoomCommand(payload, this.#host.limits);
    if (!parsed.ok) return this.#reject(resource, parsed.room, parsed.error);
    const command = parsed.command;
    if (command.type === 'join') {
      if (command.dialect === 'atmosphere.js') this.#host.speaksAtmosphereJs(resource);
      return this.#join(resource, command);
    }
    const room = this.#host.find(command.room);
    const member = room?.connectionMember(resource);
    if (room === undefined || member === undefined) return this.#reject(resource, command.room, NOT_JOINED);
    // Telemetry, not an action in the room (no authorizer): to the AI member it is about, never answered.
    if (command.type === 'timing') return room.timing(resource, member, command.memberId, command.report);
    const verdict = this.#authorize(memberRequest(command, member, resource));
    if (verdict === true) return this.#apply(resource, room, member, command);
    if (verdict === false) return this.#reject(resource, command.room, UNAUTHORIZED);
    return verdict.then((allowed) => {
      if (!allowed) return this.#reject(resource, command.room, UNAUTHORIZED);
      if (resource.state === 'closed') return;
      // The world may have moved while the authorizer thought: the connection must still be in that room.
      if (room.destroyed || room.connectionMember(resource) !== member)
        return this.#reject(resource, command.room, NOT_JOINED);
      this.#apply(resource, room, member, command);
    });
  }

  /**
   * A new connection bound to a session that holds room memberships (it came back with its token: after a
   * restart, to another node, after the grace period): each membership is asked of the authorizer again
   * (`restored: true`) and, allowed, joined again as the same member — presence announces it, and the room's
   * stream resumes from the client's cursor (the frames it missed, or a `reset`). A membership refused (or that
   * cannot be restored: no such room, too many rooms) gets the connection an `error` frame for that room,
   * `Membership not restored: <why>`, and is forgotten. Never throws, never rejects.
   */
  restore(resource: AtmosphereResource): void | Promise<void> {
    let memberships: SessionMembership[] | Promise<SessionMembership[]>;
    try {
      memberships = this.#host.memberships(resource);
    } catch (error) {
      this.#host.logger.error(`rooms: reading the session of ${resource.id} failed; no room restored`, {
        error,
      });
      return;
    }
    if (memberships instanceof Promise)
      return memberships.then(
        (list) => this.#restoreAll(resource, list),
        (error: unknown) =>
          this.#host.logger.error(`rooms: reading the session of ${resource.id} failed; no room restored`, {
            error,
          }),
      );
    return this.#restoreAll(resource, memberships);
  }

  #restoreAll(resource: AtmosphereResource, memberships: SessionMembership[]): void | Promise<void> {
    let chain: Promise<void> | undefined;
    for (const membership of memberships) {
      chain =
        chain === undefined
          ? toPromise(this.#restoreOne(resource, membership))
          : chain.then(() => this.#restoreOne(resource, membership));
    }
    return chain;
  }

  #restoreOne(resource: AtmosphereResource, { room, member }: SessionMembership): void | Promise<void> {
    if (resource.state === 'closed') return;
    // Joined again already (the client's own join got there first): nothing to give back.
    if (this.#host.find(room)?.connectionMember(resource) !== undefined) return;
    const refused = (why: string): void => {
      this.#host.forget(resource, room);
      this.#reject(resource, room, `${NOT_RESTORED}: ${why}`);
    };
    const request: RoomAuthorizationRequest = { action: 'join', room, member, resource, restored: true };
    const decided = (allowed: boolean): void => {
      if (!allowed) return refused(UNAUTHORIZED);
      if (resource.state === 'closed' || this.#host.find(room)?.connectionMember(resource) !== undefined)
        return;
      const max = this.#host.maxRoomsPerConnection;
      if (this.#host.roomCount(resource) >= max)
        return refused(`too many rooms (at most ${max} per connection)`);
      const target = this.#host.open(room);
      if (target === undefined) return refused('no such room');
      try {
        target.join(resource, member);
      } catch (error) {
        if (target.size === 0 && !target.persistent) target.destroy();
        refused(error instanceof Error ? error.message : String(error));
      }
    };
    const verdict = this.#authorize(request);
    if (typeof verdict === 'boolean') return decided(verdict);
    return verdict.then(decided);
  }

  #apply(resource: AtmosphereResource, room: Room, member: RoomMember, command: MemberCommand): void {
    try {
      switch (command.type) {
        case 'leave':
          room.leave(resource);
          return;
        case 'broadcast':
          room.say(member.id, resource.id, command.data, (error) =>
            this.#notSent(resource, room.name, error),
          );
          return;
        case 'direct':
          if (!room.has(command.targetId)) {
            this.#reject(resource, command.room, `Member not found: ${command.targetId}`);
            return;
          }
          room.direct(member.id, command.targetId, command.data);
          return;
        case 'typing':
          room.typingFrom(member.id, command.typing, resource.id);
          return;
        case 'stop':
        case 'steer':
        case 'approval': {
          const refused = room.turn(resource, member, command);
          if (refused instanceof Promise)
            refused
              .then((routed) => {
                if (routed !== undefined && resource.state !== 'closed')
                  this.#reject(resource, command.room, routed.reason, routed.code);
              })
              .catch((error: unknown) => this.#failed(resource, command.room, error));
          else if (refused !== undefined) this.#reject(resource, command.room, refused.reason, refused.code);
          return;
        }
      }
    } catch (error) {
      this.#failed(resource, command.room, error);
    }
  }

  #join(resource: AtmosphereResource, command: Extract<RoomCommand, { type: 'join' }>): void | Promise<void> {
    const current = this.#host.find(command.room)?.connectionMember(resource);
    const id = command.memberId ?? current?.id ?? resource.id;
    if (current !== undefined && current.id !== id)
      return this.#reject(resource, command.room, `Already joined as ${current.id}; leave first`);
    const member: RoomMember = { id, metadata: command.metadata };
    const request: RoomAuthorizationRequest =
      command.sinceId === undefined
        ? { action: 'join', room: command.room, member, resource }
        : { action: 'join', room: command.room, member, resource, sinceId: command.sinceId };
    const verdict = this.#authorize(request);
    if (verdict === true) return this.#joinAllowed(resource, command, member);
    if (verdict === false) return this.#reject(resource, command.room, UNAUTHORIZED);
    return verdict.then((allowed) => {
      if (!allowed) return this.#reject(resource, command.room, UNAUTHORIZED);
      if (resource.state !== 'closed') this.#joinAllowed(resource, command, member);
    });
  }

  #joinAllowed(
    resource: AtmosphereResource,
    command: Extract<RoomCommand, { type: 'join' }>,
    member: RoomMember,
  ): void {
    const max = this.#host.maxRoomsPerConnection;
    const existing = this.#host.find(command.room);
    if (existing?.connectionMember(resource) === undefined && this.#host.roomCount(resource) >= max) {
      return this.#reject(resource, command.room, `Too many rooms: at most ${max} per connection`);
    }
    // Only now, authorized, may a room come into existence.
    const room = existing ?? this.#host.open(command.room);
    if (room === undefined) return this.#reject(resource, command.room, 'No such room');
    try {
      room.join(resource, member, command.sinceId === undefined ? {} : { sinceId: command.sinceId });
    } catch (error) {
      if (room.size === 0 && !room.persistent) room.destroy();
      this.#failed(resource, command.room, error);
    }
  }

  #authorize(request: RoomAuthorizationRequest): boolean | Promise<boolean> {
    const authorize = this.#host.authorize;
    if (authorize === undefined) return true;
    let verdict: boolean | Promise<boolean>;
    try {
      verdict = authorize(request);
    } catch (error) {
      this.#host.logger.warn(`rooms: the authorizer threw on ${request.action} ${request.room}; refused`, {
        error,
      });
      return false;
    }
    if (verdict === true) return true;
    if (!isPromise<boolean>(verdict)) return false;
    return verdict.then(
      (allowed) => allowed === true,
      (error: unknown) => {
        this.#host.logger.warn(`rooms: the authorizer failed on ${request.action} ${request.room}; refused`, {
          error,
        });
        return false;
      },
    );
  }

  #failed(resource: AtmosphereResource, room: string, error: unknown): void {
    if (
      AtmosphereError.isInstance(error) &&
      (error.code === 'CONFLICT' || error.code === 'BAD_REQUEST' || error.code === 'CLOSED')
    ) {
      this.#reject(resource, room, error.message);
      return;
    }
    this.#host.logger.error(`rooms: handling a frame for room ${room} failed`, { error });
    this.#reject(resource, room, 'Internal error');
  }

  /** A message of this connection that could not be sent (its log refused it, a filter failed): it is told. */
  #notSent(resource: AtmosphereResource, room: string, error: unknown): void {
    // The cause stays in the server's log (a store's error says nothing the sender can act on).
    const code = AtmosphereError.isInstance(error) ? error.code : 'INTERNAL';
    this.#reject(resource, room, 'Your message was not sent.', code);
  }

  #reject(resource: AtmosphereResource, room: string | undefined, reason: string, code?: string): void {
    if (resource.state === 'closed') return;
    this.#host.logger.debug(
      `rooms: refused a frame from ${resource.id}${room === undefined ? '' : ` for room ${room}`}: ${reason}`,
    );
    resource.write(errorFrame(room, reason, code));
  }

  /** A frame the runtime refused before it reached `onMessage` (a bad `@@/path@@` prefix, an interceptor). */
  #runtimeError(error: AtmosphereError, resource: AtmosphereResource): void {
    if (error.code === 'HANDLER_FAILED')
      this.#host.logger.error(`rooms: handler failed for ${resource.id}`, { error: error.cause });
    const reason =
      error.code === 'HANDLER_FAILED'
        ? 'Internal error'
        : error.code === 'NOT_FOUND'
          ? 'Unknown path'
          : `Message refused (${error.code})`;
    this.#reject(resource, undefined, reason);
  }
}

function toPromise(value: void | Promise<void>): Promise<void> {
  return value instanceof Promise ? value : Promise.resolve();
}

function memberRequest(
  command: MemberCommand,
  member: RoomMember,
  resource: AtmosphereResource,
): RoomAuthorizationRequest {
  const base = { action: command.type, room: command.room, member, resource } as const;
  switch (command.type) {
    case 'leave':
      return base;
    case 'broadcast':
      return { ...base, data: command.data };
    case 'direct':
      return { ...base, targetId: command.targetId, data: command.data };
    case 'typing':
      return { ...base, typing: command.typing };
    case 'stop':
      return { ...base, targetId: command.memberId };
    case 'steer':
      return { ...base, targetId: command.memberId, data: command.text };
    case 'approval':
      return {
        ...base,
        targetId: command.memberId,
        data: {
          approvalId: command.approvalId,
          approved: command.approved,
          ...(command.arguments === undefined ? {} : { arguments: command.arguments }),
        },
      };
  }
}
