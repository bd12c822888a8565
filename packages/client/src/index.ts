/**
 * `@atmosphere/client`: the Atmosphere client for browsers and Node — subscriptions over WebSocket, SSE,
 * HTTP streaming and long-polling with fallback, reconnection and exact replay; AI streams, chats and rooms as
 * framework-agnostic models; React, Vue and Svelte bindings in `/react`, `/vue`, `/svelte`. The wire protocol
 * itself (frames, the rooms dialect, transport names) is `@atmosphere/protocol`.
 */
export {
  CLIENT_TRANSPORTS,
  type ClientTransportName,
  type ImageAttachment,
  type ImageMediaType,
  type PromptAttachment,
  type RoomMember,
  type RoomServerMessage,
} from '@atmosphere/protocol';
export { type ApprovalRequest } from './ai/approval.ts';
export {
  type ChatEntry,
  type ChatEntryStatus,
  ChatModel,
  type ChatModelOptions,
  type ChatRole,
  type ChatSnapshot,
} from './ai/chat-model.ts';
export type { PaintTimingOptions } from './ai/paint-timing.ts';
export {
  type ReceivedAiEvent,
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
  Atmosphere,
  type AtmosphereConfig,
  atmosphere,
  type SharedSubscription,
  subscribe,
} from './core/atmosphere.ts';
export {
  AtmosphereMessage,
  type ClientTimeoutEvent,
  type CloseEvent,
  type ConnectionState,
  type ConnectionStatus,
  type FailureToReconnectEvent,
  type OpenEvent,
  type ReconnectEvent,
  type ResetEvent,
  type SessionEvent,
  type SubscriptionEvents,
  type SubscriptionHandlers,
  type TransportFailureEvent,
} from './core/events.ts';
export { type AtmosphereRequest, REQUEST_DEFAULTS } from './core/request.ts';
export { type SessionKeeping } from './core/session-keeper.ts';
export { type PushMessage, Subscription } from './core/subscription.ts';
export {
  AtmosphereClientError,
  type AtmosphereClientErrorCode,
  type AtmosphereClientErrorOptions,
  type ServerErrorCode,
} from './errors.ts';
export {
  ConnectionModel,
  type ConnectionModelOptions,
  type ConnectionSnapshot,
} from './models/connection-model.ts';
export { type Model, Store } from './models/store.ts';
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
  type RoomErrorAbout,
  type RoomHandle,
  type RoomHandlers,
  type RoomMessage,
} from './rooms/rooms.ts';
