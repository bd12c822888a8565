import type { BroadcasterBackplane } from './backplane.ts';
import type { ClusterState } from './cluster-state.ts';
import type { Logger } from './logger.ts';
import type { AtmosphereMetrics } from './metrics.ts';
import type { SessionStore } from './session-store.ts';
import type { StreamLog } from './stream-log.ts';
import type { AtmosphereTracing } from './tracing.ts';

/**
 * What each provider kind creates. Packages add their kinds by declaration merging:
 * `declare module '@atmosphere/runtime/spi' { interface ProviderKinds { 'agent-runtime': AgentRuntime } }`.
 */
export interface ProviderKinds {
  'broadcaster-backplane': BroadcasterBackplane;
  'stream-log': StreamLog;
  'session-store': SessionStore;
  'cluster-state': ClusterState;
  metrics: AtmosphereMetrics;
  tracing: AtmosphereTracing;
}

/** A kind of provider: a key of {@link ProviderKinds}. */
export type ProviderKind = keyof ProviderKinds;

/** What providers see when asked whether they can run and when created. */
export interface ProviderContext {
  /** The environment (`process.env` unless the options gave another). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly logger: Logger;
  /** Options the application passed for this kind (`createAtmosphere({ settings: { [kind]: … } })`). */
  readonly settings: Readonly<Record<string, unknown>>;
}

/** `true`, or why not: the reason names the option or env var that would make it available. */
export type Availability = true | { available: false; reason: string };

/**
 * An implementation of a kind. Made by a factory (`redisBackplane({ url })`), registered explicitly
 * (`createAtmosphere({ providers: [...] })`) or by a package's `register` entry. At startup the runtime
 * keeps the available ones, sorts by priority (high first, ties by name) and creates the first.
 */
export interface Provider<K extends ProviderKind = ProviderKind> {
  readonly kind: K;
  readonly name: string;
  readonly priority: number;
  /**
   * True for a provider the application configured explicitly (a file, a URL): when `create()` fails,
   * startup fails with its error instead of falling back to a lower-priority provider. Default false.
   */
  readonly required?: boolean;
  isAvailable(context: ProviderContext): Availability | Promise<Availability>;
  create(context: ProviderContext): ProviderKinds[K] | Promise<ProviderKinds[K]>;
}

/** Identity, for inference: `defineProvider({ kind: 'stream-log', … })`. */
export function defineProvider<K extends ProviderKind>(provider: Provider<K>): Provider<K> {
  return provider;
}

/** How a candidate fared in the selection of its kind. */
export type CandidateStatus = 'selected' | 'unavailable' | 'outranked' | 'failed' | 'replaced';

/** One candidate of a kind's selection, with why it won or lost. */
export interface SelectionCandidate {
  readonly name: string;
  readonly priority: number;
  readonly source: 'explicit' | 'registered';
  readonly status: CandidateStatus;
  /** Why it won or lost, in words. */
  readonly reason: string;
}

/** The selection of one kind at startup. */
export interface KindSelection {
  readonly kind: string;
  /** The winner's name, or undefined when no candidate could run. */
  readonly winner: string | undefined;
  readonly candidates: readonly SelectionCandidate[];
}
