import { AtmosphereError, type Logger } from '@atmosphere/runtime';
import { framePrefix, roomErrorFrame, tagFrame } from '@atmosphere/protocol';
import type { LeaveReason, PresenceEvent, RoomMember, RoomMessage, RoomView } from './types.ts';
import type { RoomTimingSource, VirtualMemberContext, VirtualRoomMember } from './virtual-member.ts';
import { clusterMessageKey } from './room-cluster.ts';

/** @internal What a virtual member's context needs from its room beyond the public API. */
export interface VirtualHost {
  readonly logger: Logger;
  /** Queues a raw frame for every connection, in room order. */
  sendFrame(payload: string): Promise<void>;
  /** Queues a typing frame for every connection, in room order. */
  sendTyping(memberId: string, typing: boolean): Promise<void>;
  /** Claims a key across the cluster (see room-cluster.ts); true at once on a single node. */
  claimMessage(key: string): boolean | Promise<boolean>;
  /** Writes an `error` frame to every connection of the room, outside its stream, on every node. */
  sendError(frame: string): Promise<void>;
  /** Holds a virtual member's running answer in the cluster (see `VirtualMemberContext.running`). */
  holdAnswer(memberId: string, sessionId: string, onLost?: () => void): () => void;
}

/** @internal The {@link VirtualMemberContext} of one virtual member in one room. */
export class VirtualContext implements VirtualMemberContext {
  readonly room: RoomView;
  readonly member: RoomMember;
  readonly implementation: VirtualRoomMember;
  readonly #host: VirtualHost;
  readonly #controller = new AbortController();
  readonly #prefix: string;

  constructor(room: RoomView, host: VirtualHost, member: RoomMember, implementation: VirtualRoomMember) {
    this.room = room;
    this.#host = host;
    this.member = member;
    this.implementation = implementation;
    this.#prefix = framePrefix(room.name, member.id);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  get active(): boolean {
    return !this.#controller.signal.aborted;
  }

  #closed(): Promise<never> {
    return Promise.reject(
      new AtmosphereError(
        'CLOSED',
        `Virtual member ${this.member.id} is no longer in room ${this.room.name}.`,
      ),
    );
  }

  say(data: unknown): Promise<RoomMessage> {
    if (!this.active) return this.#closed();
    return this.room.broadcast(data, this.member.id);
  }

  sendTo(memberId: string, data: unknown): Promise<boolean> {
    if (!this.active) return this.#closed();
    return this.room.sendTo(memberId, data, this.member.id);
  }

  claim(message: RoomMessage): boolean | Promise<boolean> {
    if (!this.active) return false;
    const key = message.to === undefined ? clusterMessageKey(message) : undefined;
    return key === undefined ? true : this.#host.claimMessage(`${this.room.name}:${this.member.id}:${key}`);
  }

  running(sessionId: string, onLost?: () => void): () => void {
    return this.#host.holdAnswer(this.member.id, sessionId, onLost);
  }

  broadcastFrame(frame: string, options?: { tag?: boolean }): Promise<void> {
    if (!this.active) return this.#closed();
    if (typeof frame !== 'string') {
      return Promise.reject(
        new AtmosphereError('BAD_REQUEST', 'broadcastFrame() takes a string (a serialised frame).'),
      );
    }
    return this.#host.sendFrame(options?.tag === false ? frame : tagFrame(this.#prefix, frame));
  }

  sendError(
    code: string,
    reason: string,
    details?: Readonly<Record<string, string | number>>,
  ): Promise<void> {
    if (!this.active) return this.#closed();
    return this.#host.sendError(
      roomErrorFrame(this.room.name, reason, code, { ...details, memberId: this.member.id }),
    );
  }

  typing(typing: boolean): Promise<void> {
    if (!this.active) return this.#closed();
    return this.#host.sendTyping(this.member.id, typing === true);
  }

  leave(): void {
    this.room.leaveVirtual(this.member.id);
  }

  /** @internal A room message, in room order. */
  deliver(message: RoomMessage): void {
    if (!this.active) return;
    this.#guard('onMessage', () => this.implementation.onMessage(message, this));
  }

  /** @internal A presence event, in room order. */
  presence(event: PresenceEvent): void {
    if (!this.active || this.implementation.onPresence === undefined) return;
    this.#guard('onPresence', () => this.implementation.onPresence?.(event, this));
  }

  /** @internal Its own presence `join` went out. */
  joined(): void {
    if (!this.active || this.implementation.onJoin === undefined) return;
    this.#guard('onJoin', () => this.implementation.onJoin?.(this));
  }

  /** @internal A connection's paint timing report about this member's answers (at once, not in room order). */
  timing(report: string, connection: RoomTimingSource): void {
    if (!this.active || this.implementation.onTiming === undefined) return;
    this.#guard('onTiming', () => this.implementation.onTiming?.(report, connection, this));
  }

  /** @internal It left (or the room was destroyed): abort its work, then tell it. */
  close(reason: LeaveReason): void {
    if (!this.active) return;
    this.#controller.abort(
      new AtmosphereError(
        'CLOSED',
        `Virtual member ${this.member.id} left room ${this.room.name} (${reason}).`,
      ),
    );
    if (this.implementation.onLeave !== undefined)
      this.#guard('onLeave', () => this.implementation.onLeave?.(this, reason));
  }

  #guard(hook: string, call: () => unknown): void {
    let result: unknown;
    try {
      result = call();
    } catch (error) {
      this.#host.logger.error(`room ${this.room.name}: virtual member ${this.member.id} ${hook} threw`, {
        error,
      });
      return;
    }
    if (result instanceof Promise) {
      result.catch((error: unknown) =>
        this.#host.logger.error(`room ${this.room.name}: virtual member ${this.member.id} ${hook} failed`, {
          error,
        }),
      );
    }
  }
}
