import { AtmosphereError, parseUntrustedJson } from '@atmosphere/runtime';
import { isMemberId, isRoomName, MEMBER_ID_RULE, ROOM_NAME_RULE } from './names.ts';
import type { RoomMetadata } from './types.ts';

/** A client → server frame of the room protocol, validated. */
export type RoomCommand =
  | {
      readonly type: 'join';
      readonly room: string;
      readonly memberId: string | undefined;
      readonly metadata: RoomMetadata;
      readonly sinceId: number | undefined;
    }
  | { readonly type: 'leave'; readonly room: string }
  | { readonly type: 'broadcast'; readonly room: string; readonly data: unknown }
  | { readonly type: 'direct'; readonly room: string; readonly targetId: string; readonly data: unknown }
  | { readonly type: 'typing'; readonly room: string; readonly typing: boolean };

/** Bounds on what a client may send. */
export interface CommandLimits {
  /** Longest accepted frame, in characters. */
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
 * Validates one client frame. Accepts our dialect (PROTOCOL.md §8) and, on input, the atmosphere.js 5 one
 * (`member: {id, info}` on join, `target` on direct). Never throws: anything wrong is a reason for an `error`
 * frame, naming the room only when the client gave a valid room name (nothing hostile is echoed back).
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
      AtmosphereError.isInstance(error) && error.message.includes('deeper')
        ? 'JSON nested too deeply'
        : 'Invalid JSON',
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
  const member = field(body, 'member');
  if (memberId === undefined && isPlainObject(member)) {
    memberId = field(member, 'id');
    if (metadata === undefined) metadata = field(member, 'info');
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
    },
  };
}
