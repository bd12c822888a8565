import {
  type AiRole,
  parseRoomMessage,
  type RoomAiFrame,
  type RoomClientMessage,
  type RoomMember,
  type RoomServerMessage,
} from '@atmosphere/protocol';
import type { ResetEvent } from '../core/events.ts';
import type { Subscription } from '../core/subscription.ts';
import { FrameDeduplicator } from '../ai/deduplicator.ts';
import { PaintTimer, type PaintTimingOptions } from '../ai/paint-timing.ts';
import { nextSteerId } from '../ai/steer-id.ts';
import { AtmosphereClientError } from '../errors.ts';

/** A message of a room, as handed to `message` handlers. `id` is set when the server keeps history. */
export interface RoomMessage<T = unknown> {
  readonly room: string;
  readonly id: number | undefined;
  readonly from: string;
  readonly data: T;
}

/** A member joined or left (a `leave` also comes when a member vanished and its grace period ended). */
export interface PresenceEvent {
  readonly room: string;
  readonly action: 'join' | 'leave';
  readonly member: RoomMember;
}

/** What a joined room reports. Handlers run in arrival order. */
export interface RoomHandlers<T = unknown> {
  /** The join was acknowledged (again after each reconnect), with the members present. */
  joined?(members: readonly RoomMember[]): void;
  message?(message: RoomMessage<T>): void;
  presence?(event: PresenceEvent): void;
  typing?(memberId: string, typing: boolean): void;
  /**
   * The server refused something (`{"type":"error"}`), e.g. `Unauthorized`: a `SERVER_ERROR` whose `serverCode`
   * is the room's code when it gave one (`FORBIDDEN`, `UNKNOWN_RUN`, `UNKNOWN_APPROVAL`…), or could not give
   * something: `HISTORY_TRUNCATED` (a join's history replay leaves out the ids `about.from` to
   * `about.resumeAt - 1`), `LOG_FAILED` (the reply of the AI answer `about.sessionId` was not kept: its final
   * `message` will not come).
   */
  error?(error: AtmosphereClientError, about: RoomErrorAbout): void;
  /**
   * An AI frame an AI member streams to the room (each `(sessionId, seq)` once, even across reconnects).
   * The finished answer also arrives as a `message` whose data carries the same `sessionId`.
   */
  ai?(from: string, frame: RoomAiFrame): void;
  /** The server told this connection its role towards an AI member's answers (see `RoomHandle.roles`). */
  role?(memberId: string, role: AiRole): void;
  /**
   * The server could not send everything this connection missed of the room (a `reset`: its log no longer
   * held it, or a restart lost it). The room has already asked for its history again (`sinceId`): what the
   * history still holds arrives as `message`s (none twice); anything older than it is gone.
   */
  reset?(event: ResetEvent): void;
}

/** What a room's `error` frame is about, when it says (all undefined for a plain refusal). */
export interface RoomErrorAbout {
  /** The AI member whose answer it is about. */
  readonly memberId: string | undefined;
  /** The AI answer (`sessionId` of its frames) it is about. */
  readonly sessionId: string | undefined;
  /** `HISTORY_TRUNCATED`: the first id not replayed. */
  readonly from: number | undefined;
  /** `HISTORY_TRUNCATED`: the first id replayed (or the next one to come). */
  readonly resumeAt: number | undefined;
}

/** Options of {@link AtmosphereRooms.join}. */
export interface RoomJoinOptions {
  /**
   * Replay the room's history on the first join: `true` for all of it (`sinceId: 0`), or the id of the last
   * message already known. Later rejoins (after a reconnect) always ask for what was missed.
   */
  history?: boolean | number;
  /**
   * Reports, for a sample of the text frames of AI members' answers, when this client received each one and
   * when it was painted (the animation frame after the `ai` handlers ran), in `timing` messages to the room
   * (PROTOCOL.md §8), so the server measures token → screen of room answers as of an AI endpoint's
   * (`atmosphere_ai_token_to_paint_seconds`). Off by default; `true` takes the defaults (10 % of the frames,
   * batches every 2 s). One timer per membership: the first join that asks for it starts it.
   */
  paintTiming?: boolean | PaintTimingOptions;
}

/** A joined room. Several handles may share one membership; it is left with the last `leave()`. */
export interface RoomHandle<T = unknown> {
  readonly name: string;
  readonly memberId: string;
  /** True between the server's `join_ack` and `leave()`. */
  readonly joined: boolean;
  readonly members: ReadonlyMap<string, RoomMember>;
  /** The id of the last message seen (sent as `sinceId` when rejoining), if the server numbers them. */
  readonly lastMessageId: number | undefined;
  broadcast: (data: T) => void;
  sendTo: (memberId: string, data: T) => void;
  typing: (typing: boolean) => void;
  /**
   * This connection's role towards each AI member of the room (`viewer` may only follow its answers; every
   * other role may also stop and steer them), as the server told it: hide what it may not do.
   */
  readonly roles: ReadonlyMap<string, AiRole>;
  /**
   * Stops an AI member's running answer (`sessionId`: that answer only; a stop that crosses its end changes
   * nothing): its text so far stands, its last frame is `complete` with `reason: 'stopped'`. A refusal (a
   * viewer's) comes back to the `error` handler.
   */
  stop: (memberId: string, sessionId?: string) => void;
  /**
   * Adds guidance to an AI member's running answer at its next step boundary; returns the steer id that the
   * answer's `steer` events (`accepted`, `applied`, `unused`) echo.
   */
  steer: (memberId: string, text: string, sessionId?: string) => string;
  /**
   * Answers a tool approval of an AI member's answer (the `approval-required` event of its `ai` frames, whose
   * `data.approvalId` it names): `approve` runs the tool (with `editedArguments` when given), `deny` refuses it.
   * Only an `approver` or `owner` may; the first answer decides. A refusal (`FORBIDDEN`, `UNKNOWN_APPROVAL` when
   * it was answered already or expired) comes back to the `error` handler.
   */
  approve: (
    memberId: string,
    approvalId: string,
    decision: 'approve' | 'deny',
    editedArguments?: Readonly<Record<string, unknown>>,
  ) => void;
  leave: () => void;
}

class Membership {
  // Declared, not defined: the constructor sets them (no field definitions in the bundle).
  declare readonly room: string;
  declare readonly memberId: string;
  declare readonly metadata: Readonly<Record<string, unknown>> | undefined;
  readonly members = new Map<string, RoomMember>();
  readonly roles = new Map<string, AiRole>();
  readonly listeners = new Set<RoomHandlers<never>>();
  joined = false;
  /** Set by the first message id seen (or the history asked for); undefined before. */
  declare lastMessageId: number | undefined;
  /** True once a join asked for history (`sinceId`), so a later user wanting it does not ask twice. */
  historyRequested = false;
  /** Message ids already delivered: a replay (history, or the cache after a reconnect) never repeats one. */
  readonly seen = new Set<number>();
  readonly frames = new FrameDeduplicator();
  /** Paint timing of AI answers, when a join asked for it; `answering`: the AI member of each timed answer. */
  declare paint: PaintTimer | undefined;
  readonly answering = new Map<string, string>();

  /** Records a message id; false when it was delivered before. */
  accept(id: number): boolean {
    if (this.seen.has(id)) return false;
    this.seen.add(id);
    if (this.seen.size > MAX_SEEN_IDS) this.seen.delete(this.seen.values().next().value!);
    if (this.lastMessageId === undefined || id > this.lastMessageId) this.lastMessageId = id;
    return true;
  }

  constructor(room: string, memberId: string, metadata: Readonly<Record<string, unknown>> | undefined) {
    this.room = room;
    this.memberId = memberId;
    this.metadata = metadata;
  }

  joinMessage(sinceId = this.lastMessageId): RoomClientMessage {
    // Sent as JSON: an undefined `metadata` or `sinceId` is left out.
    return { type: 'join', room: this.room, memberId: this.memberId, metadata: this.metadata, sinceId };
  }
}

const ROOMS = new WeakMap<Subscription, AtmosphereRooms>();
const MAX_SEEN_IDS = 5_000;
/** The stream of a room on the server: its broadcaster's name, `rooms:<room>`. */
const ROOM_STREAM_PREFIX = 'rooms:';

/**
 * The room protocol of PROTOCOL.md §8 over one subscription: `join` (with `sinceId` to replay history
 * after the last message seen), `leave`, `broadcast`, `direct`, `typing`; and `join_ack`, `presence`,
 * `message`, `typing`, `error` back. After every reconnect each joined room is joined again with its
 * `sinceId`, and messages already seen (by id) are not delivered twice.
 */
export class AtmosphereRooms {
  declare readonly subscription: Subscription;
  readonly #rooms = new Map<string, Membership>();
  readonly #stops: (() => void)[];

  /** The rooms client of a subscription (one per subscription, shared by every caller). */
  static for(subscription: Subscription): AtmosphereRooms {
    let rooms = ROOMS.get(subscription);
    if (!rooms) {
      rooms = new AtmosphereRooms(subscription);
      ROOMS.set(subscription, rooms);
    }
    return rooms;
  }

  private constructor(subscription: Subscription) {
    this.subscription = subscription;
    this.#stops = [
      subscription.on('message', (message) => {
        if (this.#rooms.size === 0 || typeof message.responseBody !== 'string') return;
        const parsed = parseRoomMessage(message.responseBody);
        if (parsed) this.#handle(parsed);
      }),
      subscription.on('reopen', () => {
        for (const membership of this.#rooms.values()) this.#send(membership.joinMessage());
      }),
      subscription.on('reset', (event) => {
        // The room's stream (`rooms:<name>` on the server) lost messages for this connection: refetch the
        // history after the last message seen, on our own.
        if (!event.stream.startsWith(ROOM_STREAM_PREFIX)) return;
        const membership = this.#rooms.get(event.stream.slice(ROOM_STREAM_PREFIX.length));
        if (!membership) return;
        this.#send(membership.joinMessage(membership.lastMessageId ?? 0));
        for (const listener of [...membership.listeners]) listener.reset?.(event);
      }),
    ];
  }

  /**
   * Joins `room` as `member` (sent now, or once connected). Joining a room this connection already joined
   * as the same member shares that membership; as another member throws `INVALID_OPTION`.
   */
  join<T = unknown>(
    room: string,
    member: { id: string; metadata?: Readonly<Record<string, unknown>> },
    handlers: RoomHandlers<T> = {},
    options: RoomJoinOptions = {},
  ): RoomHandle<T> {
    let membership = this.#rooms.get(room);
    if (membership && membership.memberId !== member.id) {
      throw new AtmosphereClientError(
        'INVALID_OPTION',
        `This connection is already in room ${JSON.stringify(room)} as ${JSON.stringify(membership.memberId)}; open another connection to join as ${JSON.stringify(member.id)}.`,
      );
    }
    const listener = handlers as RoomHandlers<never>;
    if (!membership) {
      membership = new Membership(room, member.id, member.metadata);
      if (options.history !== undefined && options.history !== false) {
        membership.lastMessageId = options.history === true ? 0 : Math.max(0, Math.floor(options.history));
        membership.historyRequested = true;
      }
      this.#rooms.set(room, membership);
      membership.listeners.add(listener);
      this.#send(membership.joinMessage());
    } else {
      membership.listeners.add(listener);
      if (membership.joined) handlers.joined?.([...membership.members.values()]);
      if (options.history !== undefined && options.history !== false && !membership.historyRequested) {
        // A later user of the membership wants the history the first one did not ask for: join again with
        // sinceId (the server answers with the ack and the replay; ids already seen are skipped).
        membership.historyRequested = true;
        const since = options.history === true ? 0 : Math.max(0, Math.floor(options.history));
        this.#send(membership.joinMessage(since));
      }
    }
    const shared = membership;
    if (options.paintTiming && !shared.paint)
      shared.paint = new PaintTimer(options.paintTiming, (report, sessionId) => {
        const memberId = shared.answering.get(sessionId);
        if (memberId) this.#send({ type: 'timing', room, memberId, report });
      });
    let left = false;
    return {
      name: room,
      memberId: member.id,
      get joined() {
        return !left && shared.joined;
      },
      members: shared.members,
      get lastMessageId() {
        return shared.lastMessageId;
      },
      broadcast: (data) => this.#send({ type: 'broadcast', room, data }),
      sendTo: (targetId, data) => this.#send({ type: 'direct', room, targetId, data }),
      typing: (typing) => this.#send({ type: 'typing', room, typing }),
      roles: shared.roles,
      stop: (memberId, sessionId) => this.#send({ type: 'stop', room, memberId, sessionId }),
      steer: (memberId, text, sessionId) => {
        const steerId = nextSteerId();
        this.#send({ type: 'steer', room, memberId, steerId, text, sessionId });
        return steerId;
      },
      approve: (memberId, approvalId, decision, editedArguments) =>
        this.#send({
          type: 'approval',
          room,
          memberId,
          approvalId,
          decision,
          // Edited arguments go with an approval only: a denial carrying them would be refused whole.
          arguments: decision === 'approve' ? editedArguments : undefined,
        }),
      leave: () => {
        if (left) return;
        left = true;
        shared.listeners.delete(listener);
        if (shared.listeners.size > 0 || this.#rooms.get(room) !== shared) return;
        this.#rooms.delete(room);
        shared.joined = false;
        shared.paint?.stop();
        if (this.subscription.state !== 'closed' && this.subscription.state !== 'error')
          this.#send({ type: 'leave', room });
      },
    };
  }

  /** The rooms joined on this connection. */
  get rooms(): readonly string[] {
    return [...this.#rooms.keys()];
  }

  /** Stops listening to the subscription (rooms are not left: closing the connection does that). */
  dispose(): void {
    for (const stop of this.#stops) stop();
    for (const membership of this.#rooms.values()) membership.paint?.stop();
    this.#rooms.clear();
    ROOMS.delete(this.subscription);
  }

  #send(message: RoomClientMessage): void {
    this.subscription.push(message);
  }

  #handle(message: RoomServerMessage): void {
    const membership = this.#rooms.get(message.room);
    if (!membership) return;
    const listeners = [...membership.listeners];
    switch (message.type) {
      case 'join_ack': {
        membership.joined = true;
        membership.members.clear();
        // The roles follow the ack (asked again on every join).
        membership.roles.clear();
        for (const member of message.members) membership.members.set(member.id, member);
        for (const listener of listeners) listener.joined?.(message.members);
        return;
      }
      case 'presence': {
        const member =
          message.action === 'join'
            ? { id: message.memberId, metadata: message.metadata }
            : (membership.members.get(message.memberId) ?? {
                id: message.memberId,
                metadata: message.metadata,
              });
        if (message.action === 'join') membership.members.set(member.id, member);
        else membership.members.delete(member.id);
        for (const listener of listeners)
          listener.presence?.({ room: message.room, action: message.action, member });
        return;
      }
      case 'message': {
        if (message.id !== undefined) {
          // A replay (history after sinceId, or the cache after a reconnect) never shows a message twice.
          if (!membership.accept(message.id)) return;
        }
        const event: RoomMessage<never> = {
          room: message.room,
          id: message.id,
          from: message.from,
          data: message.data as never,
        };
        for (const listener of listeners) listener.message?.(event);
        return;
      }
      case 'typing':
        for (const listener of listeners) listener.typing?.(message.memberId, message.typing);
        return;
      case 'ai': {
        const frame = message.frame;
        if (!membership.frames.accept(frame)) return;
        for (const listener of listeners) listener.ai?.(message.from, frame);
        // After the handlers: the next animation frame paints what they changed.
        if (membership.paint && frame.type === 'streaming-text') {
          const answering = membership.answering;
          answering.set(frame.sessionId, message.from);
          if (answering.size > 20) answering.delete(answering.keys().next().value!);
          membership.paint.received(frame.sessionId, frame.seq);
        }
        return;
      }
      case 'ai-role':
        membership.roles.set(message.memberId, message.role);
        for (const listener of listeners) listener.role?.(message.memberId, message.role);
        return;
      case 'error': {
        const error = new AtmosphereClientError(
          'SERVER_ERROR',
          `Room ${JSON.stringify(message.room)}: ${message.data}`,
          { serverCode: message.code },
        );
        const about: RoomErrorAbout = {
          memberId: message.memberId,
          sessionId: message.sessionId,
          from: message.from,
          resumeAt: message.resumeAt,
        };
        for (const listener of listeners) listener.error?.(error, about);
        return;
      }
    }
  }
}
