import { AI_ROLES, type AiRole } from './ai-frames.ts';
import { parseUntrustedJson } from './json.ts';

/*
 * The rooms dialect (PROTOCOL.md §8): what a client sends on a room connection, what the server answers,
 * and the names both sides accept. The server also reads the atmosphere.js 5 dialect on input
 * (`member: {id, info}` on join, `target` on direct).
 */

/**
 * Room names: 1 to 128 characters of `A-Z a-z 0-9 _ . : -`. Narrow on purpose: a name appears in broadcaster
 * ids, clustering channels and logs, so it must need no escaping anywhere.
 */
export const ROOM_NAME_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/**
 * Member ids: 1 to 128 characters of `A-Z a-z 0-9 _ . : @ + -` (user names, e-mail-like ids, tracking ids).
 * Display names and anything else belong in the member's metadata.
 */
export const MEMBER_ID_PATTERN = /^[A-Za-z0-9_.:@+-]{1,128}$/;

/** The room name rule, in words (for error messages). */
export const ROOM_NAME_RULE = 'expected 1-128 characters of A-Z a-z 0-9 _ . : -';

/** The member id rule, in words (for error messages). */
export const MEMBER_ID_RULE = 'expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -';

/** True when `value` is a valid room name ({@link ROOM_NAME_PATTERN}). */
export function isRoomName(value: unknown): value is string {
  return typeof value === 'string' && ROOM_NAME_PATTERN.test(value);
}

/** True when `value` is a valid member id ({@link MEMBER_ID_PATTERN}). */
export function isMemberId(value: unknown): value is string {
  return typeof value === 'string' && MEMBER_ID_PATTERN.test(value);
}

/** A member's public metadata (display name, avatar…): any JSON object, shown to every member of the room. */
export type RoomMetadata = Readonly<Record<string, unknown>>;

/** A member of a room as every member sees it (`join_ack` lists, `presence` frames). */
export interface RoomMember {
  /** Unique within the room. One member may be present through several connections (tabs). */
  readonly id: string;
  readonly metadata: RoomMetadata;
}

/** Client → server messages. */
export type RoomClientMessage =
  | {
      readonly type: 'join';
      readonly room: string;
      readonly memberId: string;
      readonly metadata?: RoomMetadata | undefined;
      /** Replay the room's history after this message id. */
      readonly sinceId?: number | undefined;
    }
  | { readonly type: 'leave'; readonly room: string }
  | { readonly type: 'broadcast'; readonly room: string; readonly data: unknown }
  | { readonly type: 'direct'; readonly room: string; readonly targetId: string; readonly data: unknown }
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean }
  | RoomTurnMessage
  | RoomTimingMessage;

/**
 * Paint timing of an AI member's answer (PROTOCOL.md §8, telemetry; off by default in the client): `report` is
 * the report an AI endpoint reads (`/__timing/<sessionId> [[seq,receivedAgoMs,paintedAgoMs],…]`, PROTOCOL.md
 * §7) about the answer `sessionId` of the AI member `memberId`. Never answered; a bad report is refused whole
 * and only counted.
 */
export interface RoomTimingMessage {
  readonly type: 'timing';
  readonly room: string;
  readonly memberId: string;
  readonly report: string;
}

/**
 * Turn control of a room's AI member (PROTOCOL.md §8, turns): `stop` ends its running answer (the text so far
 * stands, the answer's terminal frame is `complete` with `"reason":"stopped"`); `steer` adds guidance to it at
 * its next step boundary (acknowledged by `steer` events in the answer's frames). `sessionId` names the answer
 * meant: a stop or steer that crosses the end of that answer then changes nothing (without it, whatever answer
 * runs is meant).
 */
export type RoomTurnMessage =
  | {
      readonly type: 'stop';
      readonly room: string;
      readonly memberId: string;
      readonly sessionId?: string | undefined;
    }
  | {
      readonly type: 'steer';
      readonly room: string;
      readonly memberId: string;
      /** The client's id for this guidance (`[A-Za-z0-9_-]{1,64}`), echoed by the `steer` events. */
      readonly steerId: string;
      readonly text: string;
      readonly sessionId?: string | undefined;
    }
  | {
      /**
       * The answer to an AI member's tool approval (its `approval-required` event): only an `approver` or
       * `owner` may answer, once; `arguments` (with `approve`) runs the tool with edited arguments.
       */
      readonly type: 'approval';
      readonly room: string;
      readonly memberId: string;
      /** The `approvalId` of the `approval-required` event. */
      readonly approvalId: string;
      readonly decision: 'approve' | 'deny';
      readonly arguments?: Readonly<Record<string, unknown>> | undefined;
    };

/**
 * An AI frame (PROTOCOL.md §7) a room member streams to the whole room, tagged with the room and the member:
 * `{"room":"lobby","from":"assistant","type":"streaming-text","data":"Hel","sessionId":…,"seq":1}`.
 */
export interface RoomAiFrame {
  readonly sessionId: string;
  readonly seq: number;
  /** `streaming-text`, `progress`, `metadata`, `complete`, `error`… (absent on `event` frames). */
  readonly type: string | undefined;
  /** The event name of an `event` frame (`tool-start`, …). */
  readonly event: string | undefined;
  readonly data: unknown;
  readonly key: string | undefined;
  readonly value: unknown;
  /** On `error` frames: the machine-readable code. */
  readonly code: string | undefined;
  /** On `complete` frames: `stopped` when a member stopped the answer (the text so far stands). */
  readonly reason: string | undefined;
}

/** Server → client messages, as a client reads them. */
export type RoomServerMessage =
  | { readonly type: 'join_ack'; readonly room: string; readonly members: readonly RoomMember[] }
  | {
      readonly type: 'presence';
      readonly room: string;
      readonly action: 'join' | 'leave';
      readonly memberId: string;
      readonly metadata: RoomMetadata;
    }
  | {
      readonly type: 'message';
      readonly room: string;
      /** The history id, when the room keeps history. */
      readonly id: number | undefined;
      readonly from: string;
      readonly data: unknown;
    }
  | { readonly type: 'typing'; readonly room: string; readonly memberId: string; readonly typing: boolean }
  | {
      readonly type: 'error';
      readonly room: string;
      readonly data: string;
      /** The machine-readable code, when the server sent one (`FORBIDDEN`, `UNKNOWN_RUN`, … on turn control). */
      readonly code: string | undefined;
      /** The AI member and the answer (`sessionId`) it is about (`LOG_FAILED`: that answer's reply was not kept). */
      readonly memberId?: string | undefined;
      readonly sessionId?: string | undefined;
      /** `HISTORY_TRUNCATED`: the ids `from` to `resumeAt - 1` of the history asked for are not replayed. */
      readonly from?: number | undefined;
      readonly resumeAt?: number | undefined;
    }
  | { readonly type: 'ai'; readonly room: string; readonly from: string; readonly frame: RoomAiFrame }
  | {
      readonly type: 'ai-role';
      readonly room: string;
      /** The AI member the role is about. */
      readonly memberId: string;
      readonly role: AiRole;
    };

function record(value: unknown): Readonly<Record<string, unknown>> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : {};
}

function member(value: unknown): RoomMember | undefined {
  const raw = record(value);
  return typeof raw['id'] === 'string' ? { id: raw['id'], metadata: record(raw['metadata']) } : undefined;
}

/** Reads a server message from a text; `undefined` when it is not one (not JSON, an unknown type, no room). */
export function parseRoomMessage(frame: string): RoomServerMessage | undefined {
  if (frame.charCodeAt(0) !== 123 /* { */ || !frame.includes('"room"')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch {
    return undefined;
  }
  const raw = record(value);
  const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
  const room = text('room');
  if (room === undefined) return undefined;
  const sessionId = text('sessionId');
  const seq = raw['seq'];
  if (sessionId !== undefined && typeof seq === 'number') {
    return {
      type: 'ai',
      room,
      from: text('from') ?? '',
      frame: {
        sessionId,
        seq,
        type: text('type'),
        event: text('event'),
        data: raw['data'],
        key: text('key'),
        value: raw['value'],
        code: text('code'),
        reason: text('reason'),
      },
    };
  }
  const memberId = text('memberId');
  switch (raw['type']) {
    case 'join_ack': {
      const members = Array.isArray(raw['members'])
        ? raw['members'].map(member).filter((m) => m !== undefined)
        : [];
      return { type: 'join_ack', room, members };
    }
    case 'presence': {
      const action = raw['action'];
      if ((action !== 'join' && action !== 'leave') || memberId === undefined) return undefined;
      return { type: 'presence', room, action, memberId, metadata: record(raw['metadata']) };
    }
    case 'message': {
      const id = raw['id'];
      return {
        type: 'message',
        room,
        id: typeof id === 'number' && Number.isFinite(id) ? id : undefined,
        from: text('from') ?? '',
        data: raw['data'],
      };
    }
    case 'typing':
      if (memberId === undefined) return undefined;
      return { type: 'typing', room, memberId, typing: raw['typing'] === true };
    case 'error': {
      const id = (key: string): number | undefined => {
        const value = raw[key];
        return typeof value === 'number' && Number.isSafeInteger(value) ? value : undefined;
      };
      return {
        type: 'error',
        room,
        data: text('data') ?? JSON.stringify(raw['data']),
        code: text('code'),
        memberId,
        sessionId,
        from: id('from'),
        resumeAt: id('resumeAt'),
      };
    }
    case 'ai-role': {
      const role = raw['role'];
      if (memberId === undefined || !AI_ROLES.includes(role as AiRole)) return undefined;
      return { type: 'ai-role', room, memberId, role: role as AiRole };
    }
    default:
      return undefined;
  }
}

/*
 * Server → client frames, serialised once each: the same string is handed to every recipient.
 */

/** `{"type":"join_ack","room":…,"members":[{"id":…,"metadata":{…}}]}` — `membersJson` from {@link membersJson}. */
export function joinAckFrame(room: string, membersJson: string): string {
  return `{"type":"join_ack","room":${JSON.stringify(room)},"members":${membersJson}}`;
}

/** The member list of a `join_ack`. */
export function membersJson(members: Iterable<RoomMember>): string {
  const list: { id: string; metadata: RoomMetadata }[] = [];
  for (const each of members) list.push({ id: each.id, metadata: each.metadata });
  return JSON.stringify(list);
}

/** `{"type":"presence","room":…,"action":"join|leave","memberId":…,"metadata":{…}}` */
export function presenceFrame(room: string, action: 'join' | 'leave', who: RoomMember): string {
  return JSON.stringify({ type: 'presence', room, action, memberId: who.id, metadata: who.metadata });
}

/**
 * `{"type":"message","room":…,"id":7,"from":…,"data":…}` — `id` only with history, `from` only with a sender.
 * `undefined` when `data` cannot be sent as JSON (undefined, a cycle, a BigInt): the caller refuses it.
 */
export function messageFrame(
  room: string,
  id: number | undefined,
  from: string | undefined,
  data: unknown,
): string | undefined {
  if (data === undefined) return undefined;
  try {
    return JSON.stringify({ type: 'message', room, id, from, data });
  } catch {
    return undefined;
  }
}

/** `{"type":"typing","room":…,"memberId":…,"typing":true}` */
export function typingFrame(room: string, memberId: string, typing: boolean): string {
  return JSON.stringify({ type: 'typing', room, memberId, typing });
}

/**
 * `{"type":"error","room":…,"data":"…"[,"code":…]}` — `room` only when the client named a valid one, `code`
 * (machine-readable) on refused turn control and on what the server could not give (`HISTORY_TRUNCATED`,
 * `LOG_FAILED`); `details` are fields that name what it was about (`from`/`resumeAt`, `memberId`/`sessionId`),
 * after the others.
 */
export function roomErrorFrame(
  room: string | undefined,
  reason: string,
  code?: string,
  details?: Readonly<Record<string, string | number>>,
): string {
  return JSON.stringify({ type: 'error', room, data: reason, code, ...details });
}

/**
 * `{"type":"ai-role","room":…,"memberId":<AI member>,"role":…}`: what this connection may do to the answers of
 * one AI member of the room (see {@link AiRole}), sent to the connection alone when it joins the room (or the
 * AI member joins). Enforced on every `stop` and `steer`: a `viewer`'s is refused with an `error` frame.
 */
export function roomRoleFrame(room: string, memberId: string, role: AiRole): string {
  return `{"type":"ai-role","room":${JSON.stringify(room)},"memberId":${JSON.stringify(memberId)},"role":"${role}"}`;
}

/** May a connection with this role stop and steer an AI member's answers: every role but `viewer`. */
export function mayControlTurns(role: AiRole): boolean {
  return role !== 'viewer';
}

/** May a connection with this role answer an AI member's tool approvals: `approver` and `owner`. */
export function mayApprove(role: AiRole): boolean {
  return role === 'approver' || role === 'owner';
}

/**
 * Tags an AI frame (a JSON object text, PROTOCOL.md §7) with the room and the member that streams it, without
 * parsing it: `{"type":"streaming-text",…}` → `{"room":"lobby","from":"ai","type":"streaming-text",…}`, so a
 * connection in several rooms can tell which room a token belongs to. Other text is returned as it is.
 */
export function tagFrame(prefix: string, frame: string): string {
  if (frame.charCodeAt(0) !== 123 /* { */) return frame;
  let rest = 1;
  while (rest < frame.length && isJsonSpace(frame.charCodeAt(rest))) rest++;
  if (frame.charCodeAt(rest) === 125 /* } */) return `${prefix}}`;
  return `${prefix},${frame.slice(1)}`;
}

/** The prefix {@link tagFrame} puts in front of a frame's own fields. */
export function framePrefix(room: string, from: string): string {
  return `{"room":${JSON.stringify(room)},"from":${JSON.stringify(from)}`;
}

/*
 * The atmosphere.js 5 dialect (its `AtmosphereRooms`), for connections that speak it: a member is
 * `{"id":…,"info":{…}}`; presence carries the action in `data` and the member in `member`; a message is a
 * `broadcast` or a `direct` with the sender in `member`; the join is confirmed by a `join` with the member list
 * in `data`. `typing` is the same in both dialects; atmosphere.js ignores `error` frames.
 */

/** Which dialect a room connection speaks: ours (PROTOCOL.md §8) or the atmosphere.js 5 one. */
export type RoomDialect = 'standard' | 'atmosphere.js';

/** The member list of an atmosphere.js `join` confirmation: `[{"id":…,"info":{…}}]`. */
export function atmosphereJsMembersJson(members: Iterable<RoomMember>): string {
  const list: { id: string; info: RoomMetadata }[] = [];
  for (const each of members) list.push({ id: each.id, info: each.metadata });
  return JSON.stringify(list);
}

/** `{"type":"join","room":…,"data":[{"id":…,"info":{…}}]}` — `membersJson` from {@link atmosphereJsMembersJson}. */
export function atmosphereJsJoinFrame(room: string, membersJson: string): string {
  return `{"type":"join","room":${JSON.stringify(room)},"data":${membersJson}}`;
}

/** `{"type":"presence","room":…,"data":"join|leave","member":{"id":…,"info":{…}}}` */
export function atmosphereJsPresenceFrame(room: string, action: 'join' | 'leave', who: RoomMember): string {
  return JSON.stringify({ type: 'presence', room, data: action, member: { id: who.id, info: who.metadata } });
}

/**
 * `{"type":"broadcast"|"direct","room":…,"data":…,"member":{"id":<from>},"id":7}` — `member` only with a
 * sender, `id` only with history. `undefined` when `data` cannot be sent as JSON.
 */
export function atmosphereJsMessageFrame(
  room: string,
  id: number | undefined,
  from: string | undefined,
  data: unknown,
  direct: boolean,
): string | undefined {
  if (data === undefined) return undefined;
  try {
    return JSON.stringify({
      type: direct ? 'direct' : 'broadcast',
      room,
      data,
      member: from === undefined ? undefined : { id: from },
      id,
    });
  } catch {
    return undefined;
  }
}

function isJsonSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}

/*
 * Client → server messages as the server reads them.
 */

/** A client message of the room protocol, validated. */
export type RoomCommand =
  | {
      readonly type: 'join';
      readonly room: string;
      readonly memberId: string | undefined;
      readonly metadata: RoomMetadata;
      readonly sinceId: number | undefined;
      /** `atmosphere.js` when the join came as atmosphere.js sends it (`member: {id, info}`, no `memberId`). */
      readonly dialect: RoomDialect;
    }
  | { readonly type: 'leave'; readonly room: string }
  | { readonly type: 'broadcast'; readonly room: string; readonly data: unknown }
  | { readonly type: 'direct'; readonly room: string; readonly targetId: string; readonly data: unknown }
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean }
  /** `report` as sent, read by the AI member (`parseTimingMessage`); a report that is not a string is ''. */
  | { readonly type: 'timing'; readonly room: string; readonly memberId: string; readonly report: string }
  | {
      readonly type: 'stop';
      readonly room: string;
      readonly memberId: string;
      readonly sessionId: string | undefined;
    }
  | {
      readonly type: 'steer';
      readonly room: string;
      readonly memberId: string;
      readonly steerId: string;
      readonly text: string;
      readonly sessionId: string | undefined;
    }
  | {
      readonly type: 'approval';
      readonly room: string;
      readonly memberId: string;
      readonly approvalId: string;
      readonly approved: boolean;
      /** Edited arguments, with an approval. */
      readonly arguments: Readonly<Record<string, unknown>> | undefined;
    };

/** Bounds on what a client may send. */
export interface CommandLimits {
  /** Longest accepted message, in characters. */
  readonly maxMessageLength: number;
  /** Longest accepted metadata object, in characters of JSON. */
  readonly maxMetadataLength: number;
  /** Deepest accepted JSON nesting. */
  readonly maxJsonDepth: number;
}

/** The outcome of {@link parseRoomCommand}: a command, or the reason for an `error` frame. */
export type ParseResult =
  | { readonly ok: true; readonly command: RoomCommand }
  | { readonly ok: false; readonly room: string | undefined; readonly error: string };

const EMPTY_METADATA: RoomMetadata = /* @__PURE__ */ Object.freeze({});
const TYPE_ECHO = /^[a-z_]{1,32}$/;
const TURN_ID = /^[A-Za-z0-9_-]{1,64}$/;

function fail(room: string | undefined, error: string): ParseResult {
  return { ok: false, room, error };
}

/** Own properties only: a parsed object must not answer with anything inherited. */
function field(body: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(body, key) ? body[key] : undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Validates one client message. Accepts our dialect and, on input, the atmosphere.js 5 one (`member: {id,
 * info}` on join, `target` on direct). Never throws: anything wrong is a reason for an `error` frame, naming the
 * room only when the client gave a valid room name (nothing hostile is echoed back).
 */
export function parseRoomCommand(text: string, limits: CommandLimits): ParseResult {
  if (text.length > limits.maxMessageLength) {
    return fail(undefined, `Message too large: at most ${limits.maxMessageLength} characters`);
  }
  let parsed: unknown;
  try {
    parsed = parseUntrustedJson(text, limits.maxJsonDepth);
  } catch (error) {
    return fail(
      undefined,
      (error as Error).message.includes('deeper') ? 'JSON nested too deeply' : 'Invalid JSON',
    );
  }
  if (!isPlainObject(parsed)) return fail(undefined, 'Expected a JSON object');
  const type = field(parsed, 'type');
  const rawRoom = field(parsed, 'room');
  const room = isRoomName(rawRoom) ? rawRoom : undefined;
  switch (type) {
    case 'join':
    case 'leave':
    case 'broadcast':
    case 'direct':
    case 'typing':
    case 'stop':
    case 'steer':
    case 'approval':
    case 'timing':
      break;
    default:
      return fail(
        room,
        typeof type === 'string' && TYPE_ECHO.test(type) ? `Unknown type: ${type}` : 'Unknown type',
      );
  }
  if (room === undefined)
    return fail(undefined, rawRoom === undefined ? 'Missing room' : `Invalid room name: ${ROOM_NAME_RULE}`);
  switch (type) {
    case 'join':
      return parseJoin(parsed, room, limits);
    case 'leave':
      return { ok: true, command: { type, room } };
    case 'broadcast': {
      if (!Object.hasOwn(parsed, 'data')) return fail(room, 'Missing data');
      return { ok: true, command: { type, room, data: parsed['data'] } };
    }
    case 'direct': {
      // atmosphere.js sends `target`; ours is `targetId`.
      const targetId = field(parsed, 'targetId') ?? field(parsed, 'target');
      if (!isMemberId(targetId)) return fail(room, `Invalid targetId: ${MEMBER_ID_RULE}`);
      if (!Object.hasOwn(parsed, 'data')) return fail(room, 'Missing data');
      return { ok: true, command: { type, room, targetId, data: parsed['data'] } };
    }
    case 'typing': {
      const typing = field(parsed, 'typing');
      if (typeof typing !== 'boolean') return fail(room, 'Invalid typing: expected true or false');
      return { ok: true, command: { type, room, typing } };
    }
    case 'stop':
    case 'steer':
      return parseTurn(parsed, type, room);
    case 'approval':
      return parseApproval(parsed, room);
    case 'timing': {
      const memberId = field(parsed, 'memberId');
      if (!isMemberId(memberId)) return fail(room, `Invalid memberId: ${MEMBER_ID_RULE}`);
      const report = field(parsed, 'report');
      // The report itself is read where it is counted (an AI member): a bad one is refused there, unanswered.
      return {
        ok: true,
        command: { type, room, memberId, report: typeof report === 'string' ? report : '' },
      };
    }
  }
}

const APPROVAL_ID = /^[A-Za-z0-9_-]{1,128}$/;

function parseApproval(body: Record<string, unknown>, room: string): ParseResult {
  const memberId = field(body, 'memberId');
  if (!isMemberId(memberId)) return fail(room, `Invalid memberId: ${MEMBER_ID_RULE}`);
  const approvalId = field(body, 'approvalId');
  if (typeof approvalId !== 'string' || !APPROVAL_ID.test(approvalId))
    return fail(room, 'Invalid approvalId: expected the approvalId of the approval-required event');
  const decision = field(body, 'decision');
  if (decision !== 'approve' && decision !== 'deny')
    return fail(room, 'Invalid decision: expected "approve" or "deny"');
  const edited = field(body, 'arguments');
  if (edited !== undefined && (decision !== 'approve' || !isPlainObject(edited)))
    return fail(room, 'Invalid arguments: expected an object, with "approve" only');
  return {
    ok: true,
    command: {
      type: 'approval',
      room,
      memberId,
      approvalId,
      approved: decision === 'approve',
      arguments: edited,
    },
  };
}

function parseTurn(body: Record<string, unknown>, type: 'stop' | 'steer', room: string): ParseResult {
  const memberId = field(body, 'memberId');
  if (!isMemberId(memberId)) return fail(room, `Invalid memberId: ${MEMBER_ID_RULE}`);
  const sessionId = field(body, 'sessionId');
  if (
    sessionId !== undefined &&
    !(typeof sessionId === 'string' && sessionId.length <= 128 && sessionId !== '')
  )
    return fail(room, 'Invalid sessionId: expected the sessionId of the answer (1-128 characters)');
  const answer = typeof sessionId === 'string' ? sessionId : undefined;
  if (type === 'stop') return { ok: true, command: { type, room, memberId, sessionId: answer } };
  const steerId = field(body, 'steerId');
  if (typeof steerId !== 'string' || !TURN_ID.test(steerId))
    return fail(room, 'Invalid steerId: expected 1-64 characters of A-Z a-z 0-9 _ -');
  const text = field(body, 'text');
  if (typeof text !== 'string' || text.trim() === '')
    return fail(room, 'Invalid text: expected the guidance, a non-empty string');
  return { ok: true, command: { type, room, memberId, steerId, text: text.trim(), sessionId: answer } };
}

function parseJoin(body: Record<string, unknown>, room: string, limits: CommandLimits): ParseResult {
  let memberId = field(body, 'memberId');
  let metadata = field(body, 'metadata');
  // atmosphere.js: `member: { id, info }`.
  const joining = field(body, 'member');
  const dialect: RoomDialect =
    memberId === undefined && isPlainObject(joining) ? 'atmosphere.js' : 'standard';
  if (dialect === 'atmosphere.js' && isPlainObject(joining)) {
    memberId = field(joining, 'id');
    if (metadata === undefined) metadata = field(joining, 'info');
  }
  if (memberId !== undefined && memberId !== null && !isMemberId(memberId)) {
    return fail(room, `Invalid memberId: ${MEMBER_ID_RULE}`);
  }
  if (metadata !== undefined && metadata !== null) {
    if (!isPlainObject(metadata) || JSON.stringify(metadata).length > limits.maxMetadataLength) {
      return fail(
        room,
        `Invalid metadata: expected a JSON object of at most ${limits.maxMetadataLength} characters`,
      );
    }
  }
  const sinceId = field(body, 'sinceId');
  if (
    sinceId !== undefined &&
    sinceId !== null &&
    !(Number.isSafeInteger(sinceId) && (sinceId as number) >= 0)
  ) {
    return fail(room, 'Invalid sinceId: expected a non-negative integer');
  }
  return {
    ok: true,
    command: {
      type: 'join',
      room,
      memberId: typeof memberId === 'string' ? memberId : undefined,
      metadata: isPlainObject(metadata) ? Object.freeze({ ...metadata }) : EMPTY_METADATA,
      sinceId: typeof sinceId === 'number' ? sinceId : undefined,
      dialect,
    },
  };
}
