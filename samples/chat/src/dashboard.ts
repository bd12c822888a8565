import type { Atmosphere } from '@atmosphere/runtime';
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { histogramPercentiles, type Percentiles } from './quantiles.ts';

/** The dashboard's live feed: an Atmosphere path (its broadcaster), for operators only (see `AdminAccess`). */
export const DASHBOARD_FEED = '/admin/live';

/** What the dashboard page shows: one snapshot of the runtime's metrics, sent over {@link DASHBOARD_FEED}. */
export interface DashboardSnapshot {
  /** When it was read (ms since the epoch). */
  readonly at: number;
  /** Chat clients connected now, by transport (the dashboards' own connections are left out). */
  readonly connections: Readonly<Record<string, number>>;
  /** Dashboards connected now. */
  readonly dashboards: number;
  /** Chat clients connected since the start (new tracking ids). */
  readonly connectionsTotal: number;
  /** Broadcasts since the start, and per second over the last interval (the dashboard's own left out). */
  readonly messagesBroadcast: number;
  readonly messagesPerSecond: number;
  /** Messages handed to clients since the start, and per second (the dashboard's own left out). */
  readonly messagesDelivered: number;
  readonly deliveriesPerSecond: number;
  /** AI runs in progress, prompts since the start, tokens since the start and per second, spend in USD. */
  readonly aiRunsActive: number;
  readonly aiPrompts: number;
  readonly aiTokens: number;
  readonly aiTokensPerSecond: number;
  readonly aiCostUsd: number;
  /** Rooms open on this node, and their members (people and AI members). */
  readonly roomsActive: number;
  readonly roomMembers: number;
  /**
   * Token to screen since the start, from the paint timing clients report (`paintTiming` in
   * `@atmosphere/client`): the time from a text frame sent by the server to the animation frame that painted
   * it (`atmosphere_ai_token_to_paint_seconds`), and to its receipt (`atmosphere_ai_token_to_receive_seconds`).
   * p50/p90/p99 in ms, estimated from the histograms' buckets; null before any report.
   */
  readonly tokenToPaint: Percentiles | null;
  readonly tokenToReceive: Percentiles | null;
}

/** Options of {@link startDashboard}. */
export interface DashboardOptions {
  /** How often the page is updated while a dashboard is open. Default 1000 ms. */
  readonly intervalMs?: number;
}

/** A running dashboard feed. */
export interface Dashboard {
  /** The newest snapshot (read now). */
  snapshot(): Promise<DashboardSnapshot>;
  close(): void;
}

const sum = (values: readonly MetricValue<string>[] | undefined): number =>
  (values ?? []).reduce((total, value) => total + value.value, 0);

/**
 * Serves {@link DASHBOARD_FEED}: while at least one dashboard is connected, the runtime's metrics (read from the
 * application's prom-client `registry`, which `metrics({ registry })` fills) are broadcast to it every
 * `intervalMs`; a dashboard that connects gets the newest snapshot at once. Nothing is read while nobody
 * watches. The feed's own broadcasts and deliveries are subtracted from the counts it shows, so an idle chat
 * shows 0 messages/s however many dashboards are open.
 */
export function startDashboard(
  atmosphere: Atmosphere,
  registry: Registry,
  options: DashboardOptions = {},
): Dashboard {
  const intervalMs = options.intervalMs ?? 1000;
  let ownBroadcasts = 0;
  let ownDeliveries = 0;
  let previous: { at: number; broadcast: number; delivered: number; tokens: number } | undefined;
  let latest: DashboardSnapshot | undefined;

  const read = async (): Promise<DashboardSnapshot> => {
    const metrics = new Map<string, MetricObjectWithValues<MetricValue<string>>>();
    for (const metric of await registry.getMetricsAsJSON()) metrics.set(metric.name, metric);
    const values = (name: string) => metrics.get(name)?.values;
    const connections: Record<string, number> = {};
    for (const value of values('atmosphere_connections_active') ?? []) {
      const transport = String(value.labels['transport'] ?? 'unknown');
      connections[transport] = (connections[transport] ?? 0) + value.value;
    }
    let dashboards = 0;
    for (const resource of atmosphere.resources()) {
      if (resource.path !== DASHBOARD_FEED || resource.state !== 'connected') continue;
      dashboards++;
      connections[resource.transport] = (connections[resource.transport] ?? 0) - 1;
    }
    for (const [transport, count] of Object.entries(connections))
      if (count <= 0) delete connections[transport];
    const at = Date.now();
    const broadcast = Math.max(0, sum(values('atmosphere_messages_broadcast_total')) - ownBroadcasts);
    const delivered = Math.max(0, sum(values('atmosphere_messages_delivered_total')) - ownDeliveries);
    const tokens = sum(values('atmosphere_ai_tokens_total'));
    const seconds = previous ? Math.max(0.001, (at - previous.at) / 1000) : 1;
    const rate = (now: number, before: number | undefined) =>
      before === undefined ? 0 : Math.max(0, Math.round(((now - before) / seconds) * 10) / 10);
    const snapshot: DashboardSnapshot = {
      at,
      connections,
      dashboards,
      connectionsTotal: sum(values('atmosphere_connections_total')),
      messagesBroadcast: broadcast,
      messagesPerSecond: rate(broadcast, previous?.broadcast),
      messagesDelivered: delivered,
      deliveriesPerSecond: rate(delivered, previous?.delivered),
      aiRunsActive: sum(values('atmosphere_ai_runs_active')),
      aiPrompts: sum(values('atmosphere_ai_prompts_total')),
      aiTokens: tokens,
      aiTokensPerSecond: rate(tokens, previous?.tokens),
      aiCostUsd: sum(values('atmosphere_ai_cost_usd_total')),
      roomsActive: sum(values('atmosphere_rooms_active')),
      roomMembers: sum(values('atmosphere_room_members')),
      tokenToPaint: histogramPercentiles(values('atmosphere_ai_token_to_paint_seconds')),
      tokenToReceive: histogramPercentiles(values('atmosphere_ai_token_to_receive_seconds')),
    };
    previous = { at, broadcast, delivered, tokens };
    latest = snapshot;
    return snapshot;
  };

  const publish = async (): Promise<void> => {
    const feed = atmosphere.broadcasters.find(DASHBOARD_FEED);
    if (feed === undefined || feed.size === 0) {
      previous = undefined;
      return;
    }
    const snapshot = await read();
    ownBroadcasts++;
    ownDeliveries += feed.size;
    await feed.broadcast(snapshot);
  };

  let busy = false;
  const timer = setInterval(() => {
    if (busy) return; // a slow collection is not stacked up
    busy = true;
    publish()
      .catch((error: unknown) => atmosphere.logger.warn('the dashboard could not be updated', { error }))
      .finally(() => {
        busy = false;
      });
  }, intervalMs);
  timer.unref();

  const service = atmosphere.managed(DASHBOARD_FEED, {
    async onReady(resource) {
      // The first paint does not wait for the next tick.
      resource.write(latest && Date.now() - latest.at < intervalMs ? latest : await read());
    },
    onMessage() {
      // The page only listens.
    },
  });

  return {
    snapshot: read,
    close() {
      clearInterval(timer);
      service.remove();
    },
  };
}
