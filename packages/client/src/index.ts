export { Atmosphere, type AtmosphereConfig, atmosphere, type SharedSubscription, subscribe } from './core/atmosphere.ts';
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
export { type AtmosphereRequest, REQUEST_DEFAULTS, type ResolvedRequest, resolveRequest } from './core/request.ts';
export { type PushMessage, Subscription } from './core/subscription.ts';
export { AtmosphereClientError, type AtmosphereClientErrorCode, type AtmosphereClientErrorOptions } from './errors.ts';
export { FRAMEWORK_VERSION, Params, TRANSPORT_NAMES, type TransportName } from './protocol/constants.ts';
export { FrameParser } from './protocol/framing.ts';
export { type Handshake, parseHandshake } from './protocol/handshake.ts';
export { SseParser } from './protocol/sse-parser.ts';
