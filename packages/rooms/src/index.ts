export type { RoomAction, RoomAuthorizationRequest, RoomAuthorizer } from './authorizer.ts';
export { roomBroadcasterId } from './names.ts';
export { Room } from './room.ts';
export { clusterMessageKey } from './room-cluster.ts';
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
  RoomView,
} from './types.ts';
export type {
  RoomConnection,
  RoomTimingSource,
  RoomTurn,
  RoomTurnPlace,
  RoomTurnRefusal,
  VirtualMemberContext,
  VirtualRoomMember,
} from './virtual-member.ts';
