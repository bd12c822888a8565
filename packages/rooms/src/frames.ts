import { messageFrame } from '@atmosphere/protocol';
import { AtmosphereError } from '@atmosphere/runtime';

/**
 * The `message` frame of a room message (`@atmosphere/protocol`'s `messageFrame`), refusing data JSON cannot
 * carry: throws `BAD_REQUEST` naming the room, so the caller's promise rejects and nothing is sent.
 */
export function roomMessageFrame(
  room: string,
  id: number | undefined,
  from: string | undefined,
  data: unknown,
): string {
  const frame = messageFrame(room, id, from, data);
  if (frame !== undefined) return frame;
  throw new AtmosphereError(
    'BAD_REQUEST',
    data === undefined
      ? `A message to room ${room} needs data (undefined cannot be sent as JSON).`
      : `The message to room ${room} cannot be encoded as JSON (a cycle, a BigInt, a function).`,
  );
}

/** The start of every `message` frame of a room, up to its `room` field (the id goes right after it). */
export function messageHead(room: string): string {
  return `{"type":"message","room":${JSON.stringify(room)}`;
}

/** A `message` frame made without id (`roomMessageFrame(room, undefined, …)`), with `id` spliced in. */
export function withMessageId(room: string, payload: string, id: number): string {
  const head = messageHead(room);
  return `${head},"id":${id}${payload.slice(head.length)}`;
}
