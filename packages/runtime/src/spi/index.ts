/**
 * `@atmosphere/runtime/spi`: what an implementer of the runtime's SPIs needs — providers and the registry,
 * the clustering backplane, the log store, broadcast filters and interceptors. Applications import from
 * `@atmosphere/runtime`.
 */
export type { BackplaneMessage, BroadcasterBackplane } from '../broadcast/backplane.ts';
export type { BroadcastFilter, FilterContext, FilterPayload, FilterResult } from '../broadcast/filter.ts';
export type { AtmosphereInterceptor, ConnectContext, InboundPayload } from '../interceptors/interceptor.ts';
export {
  type Availability,
  type CandidateStatus,
  defineProvider,
  type KindSelection,
  type Provider,
  type ProviderContext,
  type ProviderKind,
  type ProviderKinds,
  registerProvider,
  type SelectionCandidate,
} from '../registry/registry.ts';
export type {
  Awaitable,
  LogEntry,
  LogRead,
  LogReadOptions,
  LogRecord,
  StreamLog,
  StreamPosition,
  StreamState,
} from './stream-log.ts';
