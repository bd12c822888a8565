import type { BackpressurePolicy } from '../spi/resource.ts';
import { AtmosphereError } from '../errors.ts';
import {
  type AtmosphereMetrics,
  type BoundCounter,
  type BoundHistogram,
  DEFAULT_BROADCAST_TIMING,
  NO_METRICS,
} from '../spi/metrics.ts';
import { type AtmosphereTracing, NO_TRACING } from '../spi/tracing.ts';

/** The transports a connection is counted by (a closed set: no unbounded label). */
const TRANSPORT_LABELS = ['websocket', 'sse', 'streaming', 'long-polling', 'polling'] as const;

/** Buckets of the broadcast latency histogram, in seconds (10 µs to 1 s: a broadcast is in-process work). */
const BROADCAST_BUCKETS = [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1];

/**
 * Why a resume told a client about a gap (a reset frame): `unknown` the log does not know the stream or could
 * not be read; `epoch` the stream's history was lost (another epoch); `ahead` the client has positions the
 * log never kept; `trimmed` the log no longer holds the next record; `truncated` the resume stopped at its page
 * cap (the client refetches the rest).
 */
export type StreamResetReason = 'unknown' | 'epoch' | 'ahead' | 'trimmed' | 'truncated';

const RESET_REASONS: readonly StreamResetReason[] = ['unknown', 'epoch', 'ahead', 'trimmed', 'truncated'];

/** What the runtime's gauges read when the metrics are collected. */
export interface RuntimeGaugeSource {
  /** Open resources by the transport of their current (or last) connection, connected ones only. */
  connectionsByTransport(): Map<string, number>;
  broadcasters(): number;
  /** Messages held in the clients' queues (pending and unconfirmed). */
  queuedMessages(): number;
}

/** A provider's `broadcastTiming` (the default when it has none): a whole number of at least 1. */
function broadcastTimingOf(metrics: AtmosphereMetrics): number {
  const every = metrics.broadcastTiming;
  if (every === undefined) return DEFAULT_BROADCAST_TIMING;
  if (!Number.isSafeInteger(every) || every < 1)
    throw new AtmosphereError(
      'INVALID_OPTION',
      `The metrics provider ${metrics.name} has broadcastTiming ${String(every)} (metrics({ broadcastTiming }) for prom-client): it must be a whole number of at least 1 (1 times every broadcast).`,
    );
  return every;
}

/**
 * The runtime's instruments, declared once on the selected `metrics` and `tracing` providers. Hot paths read
 * `metricsOn` / `tracingOn` (plain booleans) before anything else, so with the built-in providers an
 * instrumented path costs one property read; the bound children are made here, once.
 */
export class RuntimeTelemetry {
  readonly metrics: AtmosphereMetrics;
  readonly tracing: AtmosphereTracing;
  readonly metricsOn: boolean;
  readonly tracingOn: boolean;
  readonly #connections = new Map<string, BoundCounter>();
  readonly broadcasts: BoundCounter;
  readonly delivered: BoundCounter;
  readonly broadcastSeconds: BoundHistogram;
  /** One broadcast in this many is timed (`AtmosphereMetrics.broadcastTiming`). */
  readonly broadcastTiming: number;
  /** Broadcasts until the next one timed. */
  #untilTimed = 1;
  readonly replayed: BoundCounter;
  readonly #backpressure: Record<BackpressurePolicy, BoundCounter>;
  readonly relayedOut: BoundCounter;
  readonly relayedIn: BoundCounter;
  /** Messages of a stream written again from the stream log to a client that resumed with its cursor. */
  readonly streamReplayed: BoundCounter;
  readonly #resets = new Map<StreamResetReason, BoundCounter>();

  constructor(metrics: AtmosphereMetrics = NO_METRICS, tracing: AtmosphereTracing = NO_TRACING) {
    this.metrics = metrics;
    this.tracing = tracing;
    this.metricsOn = metrics.enabled;
    this.tracingOn = tracing.enabled;
    const connections = metrics.counter({
      name: 'atmosphere_connections_total',
      help: 'Clients connected (new tracking ids), by transport.',
      labelNames: ['transport'],
    });
    for (const transport of TRANSPORT_LABELS) this.#connections.set(transport, connections.labels(transport));
    this.broadcasts = metrics.counter({
      name: 'atmosphere_messages_broadcast_total',
      help: 'Messages broadcast on this node (after the filters), AI frames included.',
    });
    this.delivered = metrics.counter({
      name: 'atmosphere_messages_delivered_total',
      help: "Messages handed to a client's delivery (one per recipient), local and relayed broadcasts.",
    });
    this.broadcastTiming = broadcastTimingOf(metrics);
    this.broadcastSeconds = metrics.histogram({
      name: 'atmosphere_broadcast_duration_seconds',
      help:
        "Time from a filtered broadcast to every local recipient's delivery (log append, relay, fan-out)" +
        (this.broadcastTiming === 1
          ? ', every broadcast.'
          : `, one broadcast in ${this.broadcastTiming} (its count is not the number of broadcasts: see atmosphere_messages_broadcast_total).`),
      buckets: BROADCAST_BUCKETS,
    });
    this.replayed = metrics.counter({
      name: 'atmosphere_messages_replayed_total',
      help: 'Unconfirmed messages written again to a client that came back without them.',
    });
    const backpressure = metrics.counter({
      name: 'atmosphere_backpressure_total',
      help: 'Backpressure actions on slow clients: drop-newest, drop-oldest, disconnect (the client cut).',
      labelNames: ['action'],
    });
    this.#backpressure = {
      'drop-newest': backpressure.labels('drop-newest'),
      'drop-oldest': backpressure.labels('drop-oldest'),
      disconnect: backpressure.labels('disconnect'),
    };
    const relays = metrics.counter({
      name: 'atmosphere_backplane_messages_total',
      help: 'Broadcasts relayed through the backplane: out (published), in (received from other nodes).',
      labelNames: ['direction'],
    });
    this.relayedOut = relays.labels('out');
    this.relayedIn = relays.labels('in');
    this.streamReplayed = metrics.counter({
      name: 'atmosphere_stream_replayed_total',
      help: 'Messages of a stream written again from the stream log to a client that resumed with its cursor.',
    });
    const resets = metrics.counter({
      name: 'atmosphere_stream_resets_total',
      help: 'Gaps signalled to resuming clients (reset frames), by reason: unknown, epoch, ahead, trimmed, truncated.',
      labelNames: ['reason'],
    });
    for (const reason of RESET_REASONS) this.#resets.set(reason, resets.labels(reason));
  }

  /**
   * True for the broadcast to time (the first, then one in {@link broadcastTiming}); asked only while metrics
   * are on.
   */
  timeBroadcast(): boolean {
    if (--this.#untilTimed !== 0) return false;
    this.#untilTimed = this.broadcastTiming;
    return true;
  }

  /** Declares the gauges read at collection time. */
  observe(source: RuntimeGaugeSource): void {
    if (!this.metricsOn) return;
    this.metrics.gauge({
      name: 'atmosphere_connections_active',
      help: 'Clients connected now, by transport.',
      labelNames: ['transport'],
      collect: (set) => {
        const counts = source.connectionsByTransport();
        for (const transport of TRANSPORT_LABELS) set(counts.get(transport) ?? 0, transport);
      },
    });
    this.metrics.gauge({
      name: 'atmosphere_broadcasters_active',
      help: 'Broadcasters (channels) on this node.',
      collect: (set) => set(source.broadcasters()),
    });
    this.metrics.gauge({
      name: 'atmosphere_client_queue_messages',
      help: "Messages held in the clients' queues (the missed-message cache): pending and unconfirmed.",
      collect: (set) => set(source.queuedMessages()),
    });
  }

  /** A new client connected. */
  connected(transport: string): void {
    this.#connections.get(transport)?.add();
  }

  /** A resume signalled a gap to its client (a reset frame), for `reason`. */
  streamReset(reason: StreamResetReason): void {
    this.#resets.get(reason)!.add();
  }

  /** A backpressure policy acted on a slow client. */
  backpressure(policy: BackpressurePolicy): void {
    this.#backpressure[policy].add();
  }
}

/** The runtime's instruments when nothing records (tests building parts by hand, the built-in providers). */
export const NO_TELEMETRY: RuntimeTelemetry = new RuntimeTelemetry();
