import { AtmosphereError } from '@atmosphere/runtime';
import type { RoomMember } from './types.ts';

/*
 * Server → client frames of the room protocol (PROTOCOL.md §8), serialised once each: the same string is
 * handed to the broadcaster, which shares it between every recipient.
 */

/** `{"type":"join_ack","room":…,"members":[{"id":…,"metadata":{…}}]}` — `members` is pre-serialised JSON. */
export function joinAckFrame(room: string, membersJson: string): string {
  return `{"type":"join_ack","room":${JSON.stringify(room)},"members":${membersJson}}`;
}

/** `{"type":"presence","room":…,"action":"join|leave","memberId":…,"metadata":{…}}` */
export function presenceFrame(room: string, action: 'join' | 'leave', member: RoomMember): string {
  return JSON.stringify({ type: 'presence', room, action, memberId: member.id, metadata: member.metadata });
}

/**
 * `{"type":"message","room":…,"id":7,"from":…,"data":…}` — `id` only with history, `from` only with a sender.
 * Throws `BAD_REQUEST` when `data` cannot be sent as JSON.
 */
export function messageFrame(
  room: string,
  id: number | undefined,
  from: string | undefined,
  data: unknown,
): string {
  if (data === undefined)
    throw new AtmosphereError(
      'BAD_REQUEST',
      `A message to room ${room} needs data (undefined cannot be sent as JSON).`,
    );
  try {
    return JSON.stringify({ type: 'message', room, id, from, data });
  } catch (error) {
    throw new AtmosphereError(
      'BAD_REQUEST',
      `The message to room ${room} cannot be encoded as JSON: ${(error as Error).message}`,
      {
        cause: error,
      },
    );
  }
}

/** `{"type":"typing","room":…,"memberId":…,"typing":true}` */
export function typingFrame(room: string, memberId: string, typing: boolean): string {
  return JSON.stringify({ type: 'typing', room, memberId, typing });
}

/** `{"type":"error","room":…,"data":"…"}` — `room` only when the client named a valid one. */
export function errorFrame(room: string | undefined, reason: string): string {
  return JSON.stringify({ type: 'error', room, data: reason });
}

/** The member list of a `join_ack`. */
export function membersJson(members: Iterable<RoomMember>): string {
  const list: { id: string; metadata: RoomMember['metadata'] }[] = [];
  for (const member of members) list.push({ id: member.id, metadata: member.metadata });
  return JSON.stringify(list);
}

/**
 * Tags an AI frame (a JSON object text, PROTOCOL.md §7) with the room and the member that streams it, without
 * parsing it: `{"type":"streaming-text",…}` → `{"room":"lobby","from":"ai","type":"streaming-text",…}`. A
 * connection in several rooms can then tell which room a token belongs to. Other text is returned as is.
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

function isJsonSpace(code: number): boolean {
  return code === 32 || code === 9 || code === 10 || code === 13;
}
