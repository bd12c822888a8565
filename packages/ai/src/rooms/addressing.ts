import type { RoomMessage } from '@atmosphere/rooms';
import { isMentioned } from './mentions.ts';
import { defaultSeat, type RoomSeat, seatsOf } from './room-seat.ts';

/**
 * Whether the seat's member answers `text`, said by member `from` (see `RoomAnswerMode`). Every AI member of the
 * room is asked in turn, synchronously, with the same room state, so all reach consistent verdicts: one
 * `default` answers an unaddressed message, and a message that mentions a member goes only to those it
 * mentions (plus `all` members).
 */
export function isAddressed(
  seat: RoomSeat,
  message: RoomMessage,
  from: string,
  text: string,
  answerVirtualMembers: boolean,
): boolean {
  const owner = seat.owner;
  let addressed: boolean;
  switch (owner.answers) {
    case 'mentioned':
      addressed = isMentioned(text, owner.names);
      break;
    case 'all':
      addressed = isMentioned(text, owner.names) || wanted(seat, message, from, text);
      break;
    case 'default':
      addressed =
        isMentioned(text, owner.names) ||
        (defaultSeat(seat.context.room) === seat &&
          !mentionsAnother(seat, text) &&
          wanted(seat, message, from, text));
      break;
  }
  if (!addressed) return false;
  // Not a bot's message (unless asked): two AI members must not answer each other forever.
  return answerVirtualMembers || seat.context.room.memberInfo().get(from)?.virtual !== true;
}

/** Whether the owner's `answerWhen` (if any) takes a message it was not mentioned in. */
function wanted(seat: RoomSeat, message: RoomMessage, from: string, text: string): boolean {
  const answerWhen = seat.owner.answerWhen;
  if (answerWhen === undefined) return true;
  return answerWhen({ room: seat.context.room.name, memberId: seat.owner.id, from, text, message }) === true;
}

/** True when `text` mentions a member of the room other than the seat's owner (or an alias of another AI member). */
function mentionsAnother(seat: RoomSeat, text: string): boolean {
  if (!text.includes('@')) return false;
  const own = seat.owner.id;
  const names: string[] = [];
  for (const member of seat.context.room.members()) if (member.id !== own) names.push(member.id);
  for (const other of seatsOf(seat.context.room)) if (other !== seat) names.push(...other.owner.names);
  return isMentioned(text, names);
}
