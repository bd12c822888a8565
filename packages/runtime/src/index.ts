export { Atmosphere } from './atmosphere.ts';
export { createAtmosphere } from './create.ts';
export type { AtmosphereDescription, AtmosphereOptions } from './options.ts';
export { type BackplaneMessage, type BroadcasterBackplane, LocalBackplane } from './broadcast/backplane.ts';
export { Broadcaster, type BroadcasterOptions, type BroadcastOptions } from './broadcast/broadcaster.ts';
export {
  type BroadcasterCache,
  type CacheLimits,
  type CacheStats,
  ClientQueue,
  DEFAULT_CACHE_LIMITS,
  MemoryBroadcasterCache,
} from './broadcast/cache.ts';
export { BroadcasterFactory } from './broadcast/factory.ts';
export type { BroadcastFilter, FilterContext, FilterPayload, FilterResult } from './broadcast/filter.ts';
export { type Encoding, OutboundMessage } from './broadcast/message.ts';
export { PathTemplate } from './broadcast/path-template.ts';
export {
  DEFAULT_MEMORY_LOG_LIMITS,
  MemoryStreamLog,
  type MemoryStreamLogLimits,
} from './log/memory-stream-log.ts';
export { Disconnect, Heartbeat, ManagedService, Message, Ready } from './decorators.ts';
export { AtmosphereError, type AtmosphereErrorCode, type AtmosphereErrorOptions } from './errors.ts';
export { type AuthOptions, authInterceptor, type TokenSource } from './interceptors/auth.ts';
export {
  backpressureInterceptor,
  type BackpressureOptions,
  heartbeatInterceptor,
  type HeartbeatOptions,
  idleTimeoutInterceptor,
  maxMessageSizeInterceptor,
  originInterceptor,
  protocolInterceptor,
} from './interceptors/builtins.ts';
export type { AtmosphereInterceptor, ConnectContext, InboundPayload } from './interceptors/interceptor.ts';
export { rateLimitInterceptor, type RateLimitOptions } from './interceptors/rate-limit.ts';
export { consoleLogger, type Logger, type LogLevel, silentLogger } from './logger.ts';
export type {
  HttpRoute,
  HttpRouteHandler,
  ManagedContext,
  ManagedHandler,
  ManagedOptions,
  ManagedService as ManagedServiceRegistration,
} from './managed.ts';
export {
  type ConnectionTransport,
  Headers,
  PADDING_CHAR,
  SSE_PADDING,
  STREAMING_PADDING,
  TRANSPORTS,
  type TransportName,
} from './protocol/constants.ts';
export type { OriginPolicy } from './protocol/cors.ts';
export { handshakeText, lengthPrefixed, sseEvent } from './protocol/framing.ts';
export { parseUntrustedJson } from './protocol/json.ts';
export type { ProtocolRequest } from './protocol/request.ts';
export {
  type Availability,
  type CandidateStatus,
  defineProvider,
  type KindSelection,
  type Provider,
  type ProviderContext,
  type ProviderKind,
  type ProviderKinds,
  ProviderRegistry,
  registerProvider,
  registry,
  type SelectionCandidate,
} from './registry/registry.ts';
export {
  AtmosphereResource,
  type BackpressurePolicy,
  type ConnectionSettings,
  type DisconnectReason,
  type ResourceEvents,
  type ResourceState,
  type Subscription,
} from './resource.ts';
export type { Connection, ConnectionEnd, ConnectionOwner } from './transports/connection.ts';
export { VERSION } from './version.ts';
