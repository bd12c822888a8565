/**
 * `@atmosphere/runtime`: the Atmosphere server for applications — `createAtmosphere`, managed paths,
 * broadcasters, resources, interceptors to configure, errors and loggers. Implementers of the SPIs
 * (backplanes, log stores, filters, interceptors, providers) import `@atmosphere/runtime/spi`; contract suites
 * and test clients are in `@atmosphere/runtime/testing`.
 */
export { Atmosphere } from './atmosphere.ts';
export type { Broadcaster, BroadcasterOptions, BroadcastOptions } from './broadcast/broadcaster.ts';
export type { BroadcasterFactory } from './broadcast/factory.ts';
export { createAtmosphere } from './create.ts';
export { Disconnect, Heartbeat, ManagedService, Message, Ready } from './decorators.ts';
export { type CacheLimits, type CacheStats, DEFAULT_CACHE_LIMITS } from './delivery/client-queue.ts';
export {
  AtmosphereError,
  type AtmosphereErrorCode,
  type AtmosphereErrorCodes,
  type AtmosphereErrorOptions,
} from './errors.ts';
export { type AuthOptions, authInterceptor, type TokenSource } from './interceptors/auth.ts';
export { type BackpressureOptions, type HeartbeatOptions } from './interceptors/builtins.ts';
export { rateLimitInterceptor, type RateLimitOptions } from './interceptors/rate-limit.ts';
export { DEFAULT_MEMORY_LOG_LIMITS, type MemoryStreamLogLimits } from './log/memory-stream-log.ts';
export { consoleLogger, silentLogger } from './logger.ts';
export type {
  HttpRoute,
  HttpRouteHandler,
  ManagedContext,
  ManagedHandler,
  ManagedOptions,
  ManagedService as ManagedServiceRegistration,
} from './managed.ts';
export type { AtmosphereDescription, AtmosphereOptions } from './options.ts';
export type { OriginPolicy } from './protocol/cors.ts';
export type { AtmosphereInterceptor, ConnectContext, InboundPayload } from './spi/interceptor.ts';
export type { Logger, LogLevel } from './spi/logger.ts';
export type { Provider } from './spi/provider.ts';
export type { ProtocolRequest } from './spi/request.ts';
export type {
  AtmosphereResource,
  BackpressurePolicy,
  ConnectionSettings,
  DisconnectReason,
  ResourceEvents,
  ResourceState,
} from './spi/resource.ts';
export { VERSION } from './version.ts';
