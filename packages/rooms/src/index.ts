export type { RoomAction, RoomAuthorizationRequest, RoomAuthorizer } from './authorizer.ts';
export {
  isMemberId,
  isRoomName,
  MEMBER_ID_PATTERN,
  MEMBER_ID_RULE,
  ROOM_NAME_PATTERN,
  ROOM_NAME_RULE,
  roomBroadcasterId,
} from './names.ts';
export { type CommandLimits, parseRoomCommand, type ParseResult, type RoomCommand } from './parse.ts';
export { Room } from './room.ts';
export { createRooms, RoomManager, type RoomsOptions } from './room-manager.ts';
export type {
  LeaveReason,
  PresenceEvent,
  PresenceListener,
  RoomMember,
  RoomMemberInfo,
  RoomMessage,
  RoomMetadata,
  RoomSender,
} from './types.ts';
export type { VirtualMemberContext, VirtualRoomMember } from './virtual-member.ts';
