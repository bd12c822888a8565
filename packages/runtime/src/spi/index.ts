/**
 * `@atmosphere/runtime/spi`: what an implementer of the runtime's SPIs needs — providers and their registry,
 * the clustering backplane, the cluster state (leases, shared membership, claims), the log store (and the memory store as a reference), broadcast filters,
 * interceptors, and the resource and message contracts they are handed. The type files of `src/spi/` are
 * leaves: they import nothing but each other and `@atmosphere/protocol`. Applications import from
 * `@atmosphere/runtime`; contract suites are in `@atmosphere/runtime/testing`.
 */
export { LocalBackplane } from '../broadcast/local-backplane.ts';
export {
  MemoryClusterHub,
  MemoryClusterState,
  type MemoryClusterStateOptions,
} from '../cluster/memory-cluster-state.ts';
export {
  DEFAULT_MEMORY_LOG_LIMITS,
  MemoryStreamLog,
  type MemoryStreamLogLimits,
} from '../log/memory-stream-log.ts';
export {
  isSessionToken,
  mergeSessionData,
  newSessionToken,
  sessionLimits,
  sessionRecord,
} from '../session/session-data.ts';
export { MemorySessionStore, type MemorySessionStoreOptions } from '../session/memory-session-store.ts';
export { ProviderRegistry, registerProvider, registry } from '../registry/registry.ts';
export { WarningThrottle } from '../util/warning-throttle.ts';
export type {
  BackplaneEvents,
  BackplaneMessage,
  BroadcasterBackplane,
  RelayFailure,
  RelayFailureReason,
} from './backplane.ts';
export {
  type ClusterChange,
  type ClusterChangeListener,
  type ClusterEntry,
  type ClusterEntryChange,
  type ClusterReleaseReason,
  type ClusterSnapshot,
  type ClusterState,
  DEFAULT_CLUSTER_LEASE_MS,
} from './cluster-state.ts';
export type { BroadcastFilter, FilterContext, FilterPayload, FilterResult } from './filter.ts';
export type { AtmosphereInterceptor, ConnectContext, InboundPayload } from './interceptor.ts';
export type { Logger, LogLevel } from './logger.ts';
export type { OutboundMessage } from './message.ts';
export {
  type AtmosphereMetrics,
  type BoundCounter,
  type BoundHistogram,
  DEFAULT_BROADCAST_TIMING,
  type GaugeSpec,
  type HistogramSpec,
  type MetricCounter,
  type MetricHistogram,
  type MetricSpec,
  NO_METRICS,
} from './metrics.ts';
export {
  type AtmosphereTracing,
  NO_TRACING,
  type SpanAttributes,
  type SpanAttributeValue,
  type TraceCarrier,
  type TraceSpan,
} from './tracing.ts';
export {
  type Availability,
  type CandidateStatus,
  defineProvider,
  type KindSelection,
  type Provider,
  type ProviderContext,
  type ProviderKind,
  type ProviderKinds,
  type SelectionCandidate,
} from './provider.ts';
export type { ProtocolRequest } from './request.ts';
export type {
  AtmosphereResource,
  BackpressurePolicy,
  ConnectionSettings,
  DisconnectReason,
  ResourceEvents,
  ResourceState,
  Subscription,
} from './resource.ts';
export {
  DEFAULT_SESSION_LIMITS,
  SESSION_TOKEN_PATTERN,
  type SessionChanges,
  type SessionData,
  type SessionLimits,
  type SessionRecord,
  type SessionStore,
  type SessionSubscription,
} from './session-store.ts';
export { BATCH_ENTRIES, BATCH_PAYLOAD, payloadSize } from './stream-log.ts';
export type {
  AppendOptions,
  Awaitable,
  LogEntry,
  LogRead,
  LogReadOptions,
  LogRecord,
  StreamLog,
  StreamPosition,
  StreamState,
} from './stream-log.ts';
