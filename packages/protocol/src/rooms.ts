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
      readonly metadata?: RoomMetadata;
      /** Replay the room's history after this message id. */
      readonly sinceId?: number;
    }
  | { readonly type: 'leave'; readonly room: string }
  | { readonly type: 'broadcast'; readonly room: string; readonly data: unknown }
  | { readonly type: 'direct'; readonly room: string; readonly targetId: string; readonly data: unknown }
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean };

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
  | { readonly type: 'error'; readonly room: string; readonly data: string }
  | { readonly type: 'ai'; readonly room: string; readonly from: string; readonly frame: RoomAiFrame };

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
export function parseRoomMessage(text: string): RoomServerMessage | undefined {
  if (text.charCodeAt(0) !== 123 /* { */ || !text.includes('"room"')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const raw = record(value);
  const room = raw['room'];
  if (typeof room !== 'string') return undefined;
  const sessionId = raw['sessionId'];
  const seq = raw['seq'];
  if (typeof sessionId === 'string' && typeof seq === 'number') {
    const text = (key: string): string | undefined => (typeof raw[key] === 'string' ? raw[key] : undefined);
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
      },
    };
  }
  switch (raw['type']) {
    case 'join_ack': {
      const members = Array.isArray(raw['members'])
        ? raw['members'].map(member).filter((m) => m !== undefined)
        : [];
      return { type: 'join_ack', room, members };
    }
    case 'presence': {
      const action = raw['action'];
      if ((action !== 'join' && action !== 'leave') || typeof raw['memberId'] !== 'string') return undefined;
      return { type: 'presence', room, action, memberId: raw['memberId'], metadata: record(raw['metadata']) };
    }
    case 'message': {
      const id = raw['id'];
      return {
        type: 'message',
        room,
        id: typeof id === 'number' && Number.isFinite(id) ? id : undefined,
        from: typeof raw['from'] === 'string' ? raw['from'] : '',
        data: raw['data'],
      };
    }
    case 'typing':
      if (typeof raw['memberId'] !== 'string') return undefined;
      return { type: 'typing', room, memberId: raw['memberId'], typing: raw['typing'] === true };
    case 'error':
      return {
        type: 'error',
        room,
        data: typeof raw['data'] === 'string' ? raw['data'] : JSON.stringify(raw['data']),
      };
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

/** `{"type":"error","room":…,"data":"…"}` — `room` only when the client named a valid one. */
export function roomErrorFrame(room: string | undefined, reason: string): string {
  return JSON.stringify({ type: 'error', room, data: reason });
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
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean };

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

const EMPTY_METADATA: RoomMetadata = Object.freeze({});
const TYPE_ECHO = /^[a-z_]{1,32}$/;

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
  }
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
