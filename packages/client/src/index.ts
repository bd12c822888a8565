export {
  Atmosphere,
  type AtmosphereConfig,
  atmosphere,
  type SharedSubscription,
  subscribe,
} from './core/atmosphere.ts';
export { reconnectDelay } from './core/backoff.ts';
export {
  AtmosphereMessage,
  type ClientTimeoutEvent,
  type CloseEvent,
  type ConnectionState,
  type ConnectionStatus,
  type FailureToReconnectEvent,
  type OpenEvent,
  type ReconnectEvent,
  type SubscriptionEvents,
  type SubscriptionHandlers,
  type TransportFailureEvent,
} from './core/events.ts';
export {
  type AtmosphereRequest,
  REQUEST_DEFAULTS,
  type ResolvedRequest,
  resolveRequest,
} from './core/request.ts';
export { type PushMessage, Subscription } from './core/subscription.ts';
export {
  AtmosphereClientError,
  type AtmosphereClientErrorCode,
  type AtmosphereClientErrorOptions,
} from './errors.ts';
export { FRAMEWORK_VERSION, Params, TRANSPORT_NAMES, type TransportName } from './protocol/constants.ts';
export { FrameParser } from './protocol/framing.ts';
export { type Handshake, parseHandshake } from './protocol/handshake.ts';
export { SseParser } from './protocol/sse-parser.ts';
export { type ApprovalRequest, approvalMessage, stopMessage } from './ai/approval.ts';
export {
  ChatModel,
  type ChatMessage,
  type ChatMessageStatus,
  type ChatModelOptions,
  type ChatRole,
  type ChatSnapshot,
} from './ai/chat-model.ts';
export { type AiEventName, type AiFrame, FrameDeduplicator, parseAiFrame } from './ai/frames.ts';
export {
  type AiEvent,
  isSubscription,
  promptPayload,
  RUN_ID_METADATA,
  type SendOptions,
  type StreamingHandle,
  type StreamingHandlers,
  subscribeStreaming,
} from './ai/streaming.ts';
export {
  type RoutingInfo,
  type SessionStats,
  StreamingModel,
  type StreamingModelOptions,
  type StreamingSnapshot,
} from './ai/streaming-model.ts';
export {
  ConnectionModel,
  type ConnectionModelOptions,
  type ConnectionSnapshot,
} from './models/connection-model.ts';
export { type Model, Store } from './models/store.ts';
export {
  parseRoomMessage,
  type RoomClientMessage,
  type RoomMember,
  type RoomServerMessage,
} from './rooms/protocol.ts';
export {
  type PresenceSnapshot,
  presenceOf,
  RoomModel,
  type RoomModelOptions,
  type RoomSnapshot,
  type RoomStream,
} from './rooms/room-model.ts';
export {
  AtmosphereRooms,
  type PresenceEvent,
  type RoomHandle,
  type RoomHandlers,
  type RoomMessage,
} from './rooms/rooms.ts';
