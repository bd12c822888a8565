/**
 * Room names: 1 to 128 characters of `A-Z a-z 0-9 _ . : -`. Narrow on purpose: a name appears in broadcaster
 * ids (`rooms:<name>`), clustering channels and logs, so it must need no escaping anywhere.
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

/** The id of the runtime broadcaster that carries a room's traffic. */
export function roomBroadcasterId(room: string): string {
  return `rooms:${room}`;
}
