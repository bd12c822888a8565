import type { ClientImpl } from '../clients/connector.ts';
import type { LatencySummary } from '../lib/histogram.ts';
import type { Comparison } from '../lib/report.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import {
  type ClientGroup,
  FanoutSession,
  type PhaseResult,
  type ServerHandle,
  startClients,
  startServer,
  stopRun,
} from './harness.ts';
import {
  collectProfile,
  goal,
  LABELS,
  orderImpls,
  percent,
  ratioOf,
  type Scenario,
  type ScenarioReport,
  times,
  WS_CLIENTS,
  wsServer,
} from './scenario.ts';

/** One side of a fan-out comparison: a server and the client that speaks to it. */
/** The fan-out contender that is Atmosphere with Prometheus metrics on. */
const METRICS_KEY = 'atmosphere-metrics';
const METRICS_LABEL = 'Atmosphere + metrics';
/** The fan-out contenders that also trace (`--tracing`), keyed `atmosphere-tracing-<mode>`. */
const TRACING_KEY = 'atmosphere-tracing';

export interface Contender {
  key: string;
  label: string;
  server: ServerConfig;
  client: ClientImpl;
}

/** The measured phases of one contender at one size: every round, and the median of each metric. */
export interface FanoutRun {
  key: string;
  label: string;
  clients: number;
  connected: number;
  pacedRate: number;
  rounds: { max: PhaseResult; paced: PhaseResult }[];
  max: PhaseResult;
  paced: PhaseResult;
}

/** Broadcasts in flight for a max-rate phase: about `windowMessages` deliveries, at least 4 broadcasts. */
export function windowFor(clients: number, windowMessages: number): number {
  return Math.max(4, Math.round(windowMessages / clients));
}

function median(values: number[]): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = sorted.length / 2;
  return sorted.length % 2 === 1 ? sorted[Math.floor(middle)]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** The median of each percentile over rounds (counts summed, the max the largest). */
function medianLatency(summaries: LatencySummary[]): LatencySummary {
  const m = (pick: (s: LatencySummary) => number): number => median(summaries.map(pick));
  return {
    count: summaries.reduce((sum, s) => sum + s.count, 0),
    p50: m((s) => s.p50),
    p90: m((s) => s.p90),
    p99: m((s) => s.p99),
    max: Math.max(...summaries.map((s) => s.max)),
    mean: m((s) => s.mean),
  };
}

/** The median of each metric over rounds (counts are summed, `complete` only if every round was). */
export function medianPhase(phases: PhaseResult[]): PhaseResult {
  const m = (pick: (p: PhaseResult) => number): number => median(phases.map(pick));
  const first = phases[0]!;
  const groups = Object.keys(first.latencyByGroup ?? {});
  return {
    mode: first.mode,
    clients: Math.min(...phases.map((p) => p.clients)),
    broadcasts: phases.reduce((s, p) => s + p.broadcasts, 0),
    delivered: phases.reduce((s, p) => s + p.delivered, 0),
    expected: phases.reduce((s, p) => s + p.expected, 0),
    complete: phases.every((p) => p.complete),
    elapsedMs: phases.reduce((s, p) => s + p.elapsedMs, 0),
    messagesPerSecond: m((p) => p.messagesPerSecond),
    serverCpu: { us: m((p) => p.serverCpu.us), percent: m((p) => p.serverCpu.percent) },
    clientCpu: { us: m((p) => p.clientCpu.us), percent: m((p) => p.clientCpu.percent) },
    serverCpuPerMessageUs: m((p) => p.serverCpuPerMessageUs),
    latency: medianLatency(phases.map((p) => p.latency)),
    ...(groups.length === 0
      ? {}
      : {
          latencyByGroup: Object.fromEntries(
            groups.map((g) => [g, medianLatency(phases.map((p) => p.latencyByGroup![g]!))]),
          ),
        }),
    closedUnexpectedly: Math.max(...phases.map((p) => p.closedUnexpectedly)),
    foreign: phases.reduce((s, p) => s + p.foreign, 0),
    creditWait: m((p) => p.creditWait),
    messagesPerResponse: m((p) => p.messagesPerResponse ?? 0),
  };
}

/** One measured round: a max-rate phase, then a paced one. */
export async function measureRound(
  session: FanoutSession,
  options: BenchContext['options'],
  settings: { window: number; drainMs: number; pacedRate: number },
): Promise<{ max: PhaseResult; paced: PhaseResult }> {
  const max = await session.phase({
    mode: 'max',
    durationMs: options.maxDurationMs,
    window: settings.window,
    drainMs: settings.drainMs,
  });
  const paced = await session.phase({
    mode: 'paced',
    durationMs: options.pacedDurationMs,
    rate: settings.pacedRate,
    drainMs: settings.drainMs,
  });
  return { max, paced };
}

/**
 * Measures contenders side by side at one size. All servers and their clients are up at once (idle when
 * not measured), and the rounds interleave — A B C, B C A, C A B — so a burst of load from elsewhere on a
 * shared machine lands on every contender alike; each metric is the median of the rounds.
 */
export async function compareFanout(
  context: BenchContext,
  contenders: Contender[],
  clients: number,
  prefix: string,
  report: ScenarioReport,
): Promise<{ runs: (FanoutRun | undefined)[]; notes: string[] }> {
  const { options } = context;
  const window = windowFor(clients, options.windowMessages);
  const drainMs = options.quick ? 5_000 : 15_000;
  const pacedRate = Math.max(1, options.pacedMessagesPerSecond / clients);
  const notes: string[] = [];
  const setups: { contender: Contender; server: ServerHandle; group: ClientGroup; session: FanoutSession }[] =
    [];
  const rounds = new Map<string, { max: PhaseResult; paced: PhaseResult }[]>();
  try {
    for (const contender of contenders) {
      const label = `${prefix}-${clients}-${contender.key}`;
      const server = await startServer(context, contender.server, label);
      context.log(
        `${label}: connecting ${clients} ${contender.client} clients over ${options.clientProcesses} processes`,
      );
      let group: ClientGroup;
      try {
        group = await startClients(
          context,
          server,
          { impl: contender.client, count: clients, processes: options.clientProcesses },
          label,
        );
      } catch (error) {
        await stopRun(server, undefined);
        throw error;
      }
      setups.push({ contender, server, group, session: new FanoutSession(server, group) });
      if (group.connected === 0)
        throw new Error(`${label}: no client could connect: ${group.firstError ?? 'unknown'}`);
      if (group.connected < clients)
        notes.push(
          `${contender.label}: ${group.connected}/${clients} connected (${group.firstError ?? ''}).`,
        );
    }
    for (let round = 0; round < options.rounds; round++) {
      for (let i = 0; i < setups.length; i++) {
        const { contender, session } = setups[(i + round) % setups.length]!;
        const label = `${prefix}-${clients}-${contender.key} round ${round + 1}/${options.rounds}`;
        if (round === 0)
          await session.phase({ mode: 'max', durationMs: options.quick ? 300 : 1000, window, drainMs });
        context.log(
          `${label}: max rate ${options.maxDurationMs} ms (window ${window}), paced ${pacedRate.toFixed(1)}/s ${options.pacedDurationMs} ms`,
        );
        const list = rounds.get(contender.key) ?? [];
        list.push(await measureRound(session, options, { window, drainMs, pacedRate }));
        rounds.set(contender.key, list);
      }
    }
  } finally {
    for (const setup of setups) {
      await stopRun(setup.server, setup.group);
      await collectProfile(context, setup.server, report.profiles);
    }
  }
  const runs = contenders.map((contender): FanoutRun | undefined => {
    const list = rounds.get(contender.key);
    const setup = setups.find((s) => s.contender === contender);
    if (!list || list.length === 0 || !setup) return undefined;
    const run: FanoutRun = {
      key: contender.key,
      label: contender.label,
      clients,
      connected: setup.group.connected,
      pacedRate,
      rounds: list,
      max: medianPhase(list.map((r) => r.max)),
      paced: medianPhase(list.map((r) => r.paced)),
    };
    notes.push(...anomalies(run));
    return run;
  });
  notes.unshift(
    `Median of ${options.rounds} interleaved round(s). Max rate: ${options.maxDurationMs / 1000} s with a credit window of ${window} broadcasts beyond the slowest client. ` +
      `Paced: ${pacedRate.toFixed(1)} broadcasts/s (${options.pacedMessagesPerSecond.toLocaleString('en-US')} deliveries/s) for ${options.pacedDurationMs / 1000} s.`,
  );
  return { runs, notes };
}

/** Rows shared by the WebSocket and HTTP fan-out tables. */
export function fanoutRows(runs: (FanoutRun | undefined)[]): Comparison['rows'] {
  const value = (pick: (run: FanoutRun) => number) => runs.map((run) => (run ? pick(run) : null));
  return [
    {
      metric: 'Delivered messages/s, max rate',
      unit: 'msg/s',
      values: value((r) => r.max.messagesPerSecond),
    },
    {
      metric: 'Server CPU per delivered message, max rate',
      unit: 'µs',
      values: value((r) => r.max.serverCpuPerMessageUs),
      digits: 2,
    },
    {
      metric: 'Server CPU, max rate',
      unit: '% of a core',
      values: value((r) => r.max.serverCpu.percent),
      ratio: false,
    },
    {
      metric: 'Client processes CPU, max rate',
      unit: '% of a core',
      values: value((r) => r.max.clientCpu.percent),
      ratio: false,
    },
    {
      metric: 'Server waiting for slow clients, max rate',
      unit: '% of time',
      values: value((r) => r.max.creditWait * 100),
      ratio: false,
    },
    {
      metric: 'Latency p50, max rate',
      unit: 'ms',
      values: value((r) => r.max.latency.p50 / 1000),
      digits: 2,
    },
    {
      metric: 'Latency p99, max rate',
      unit: 'ms',
      values: value((r) => r.max.latency.p99 / 1000),
      digits: 2,
    },
    ...(runs.some((r) => (r?.max.messagesPerResponse ?? 0) > 0)
      ? [
          {
            metric: 'Messages per poll response, max rate',
            unit: '',
            values: value((r) => r.max.messagesPerResponse),
            digits: 2,
          },
        ]
      : []),
    { metric: 'Latency p50, paced', unit: 'ms', values: value((r) => r.paced.latency.p50 / 1000), digits: 2 },
    { metric: 'Latency p99, paced', unit: 'ms', values: value((r) => r.paced.latency.p99 / 1000), digits: 2 },
    {
      metric: 'Server CPU per delivered message, paced',
      unit: 'µs',
      values: value((r) => r.paced.serverCpuPerMessageUs),
      digits: 2,
    },
  ];
}

/** Notes for phases that did not deliver everything (a slow-client disconnect, a timeout). */
export function anomalies(run: FanoutRun): string[] {
  const notes: string[] = [];
  for (const phase of [run.max, run.paced]) {
    if (
      !phase.complete ||
      phase.closedUnexpectedly > 0 ||
      phase.foreign > 0 ||
      phase.delivered < phase.expected
    ) {
      notes.push(
        `${run.label} (${phase.mode}): ${phase.delivered} of ${phase.expected} expected messages delivered` +
          `${phase.complete ? '' : ' (a round hit its drain timeout)'}; ${phase.closedUnexpectedly} client(s) closed unexpectedly; ${phase.foreign} unparsable.`,
      );
    }
  }
  return notes;
}

/** Scenario 1: WebSocket fan-out at each size, Atmosphere vs raw ws vs Socket.IO. */
export const fanoutScenario: Scenario = {
  id: 'fanout',
  title: '1. WebSocket fan-out (64-byte JSON broadcasts)',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const impls = orderImpls(options.impls, true);
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    const data: (FanoutRun | undefined)[] = [];
    for (const clients of options.fanoutClients) {
      const contenders = impls.map((impl): Contender => ({
        key: impl,
        label: LABELS[impl],
        server: wsServer(impl, 30_000),
        client: WS_CLIENTS[impl],
      }));
      // The cost of Prometheus metrics: Atmosphere again, with metrics({ registry }), next to it.
      const atmosphereAt = impls.indexOf('atmosphere');
      if (atmosphereAt !== -1)
        contenders.splice(atmosphereAt + 1, 0, {
          key: METRICS_KEY,
          label: METRICS_LABEL,
          server: { ...wsServer('atmosphere', 30_000), metrics: true },
          client: WS_CLIENTS.atmosphere,
        });
      // The cost of tracing (`--tracing`): metrics and the OpenTelemetry SDK, unsampled and/or sampled.
      if (atmosphereAt !== -1)
        contenders.splice(
          atmosphereAt + 2,
          0,
          ...options.tracing.map((mode): Contender => ({
            key: `${TRACING_KEY}-${mode}`,
            label: `${METRICS_LABEL} + tracing (${mode})`,
            server: {
              ...wsServer('atmosphere', 30_000),
              metrics: true,
              ...(mode === 'unsampled-always'
                ? { tracing: 'unsampled', broadcastSpans: 'always' }
                : { tracing: mode }),
            },
            client: WS_CLIENTS.atmosphere,
          })),
        );
      const { runs, notes } = await compareFanout(context, contenders, clients, 'fanout', report);
      data.push(...runs);
      report.comparisons.push({
        title: `N = ${clients.toLocaleString('en-US')} WebSocket clients`,
        columns: contenders.map((contender) => contender.label),
        baseline: Math.max(
          0,
          contenders.findIndex((contender) => contender.key === 'ws'),
        ),
        rows: fanoutRows(runs),
        notes,
      });
      const find = (key: string) => runs.find((r) => r?.key === key);
      const atmo = find('atmosphere');
      const raw = find('ws');
      const sio = find('socketio');
      const ceiling = find('ws-frame-once');
      const measured = find(METRICS_KEY);
      if (measured && atmo)
        report.goals.push(
          goal(
            `WS fan-out N=${clients}: with Prometheus metrics on, ≥ 97 % of Atmosphere's msg/s`,
            ratioOf(measured.max.messagesPerSecond, atmo.max.messagesPerSecond),
            0.97,
            'atLeast',
            percent,
          ),
        );
      const unsampled = find(`${TRACING_KEY}-unsampled`);
      if (unsampled && atmo)
        report.goals.push(
          goal(
            `WS fan-out N=${clients}: with metrics and tracing on (unsampled), ≥ 97 % of Atmosphere's msg/s`,
            ratioOf(unsampled.max.messagesPerSecond, atmo.max.messagesPerSecond),
            0.97,
            'atLeast',
            percent,
          ),
        );
      report.goals.push(
        goal(
          `WS fan-out N=${clients}: Atmosphere ≥ 90 % of raw ws msg/s`,
          ratioOf(atmo?.max.messagesPerSecond, raw?.max.messagesPerSecond),
          0.9,
          'atLeast',
          percent,
        ),
        goal(
          `WS fan-out N=${clients}: server CPU per message ≤ 1.15× raw ws`,
          ratioOf(atmo?.max.serverCpuPerMessageUs, raw?.max.serverCpuPerMessageUs),
          1.15,
          'atMost',
          times,
        ),
      );
      if (ceiling && atmo) {
        report.notes.push(
          `N=${clients}: against the frame-once ceiling, Atmosphere reached ${percent(ratioOf(atmo.max.messagesPerSecond, ceiling.max.messagesPerSecond) ?? Number.NaN)} of its throughput at ${times(ratioOf(atmo.max.serverCpuPerMessageUs, ceiling.max.serverCpuPerMessageUs) ?? Number.NaN)} its server CPU per message.`,
        );
      }
      if (sio && raw) {
        report.notes.push(
          `N=${clients}: Socket.IO reached ${percent(ratioOf(sio.max.messagesPerSecond, raw.max.messagesPerSecond) ?? Number.NaN)} of raw ws throughput.`,
        );
      }
    }
    report.data = data;
    return report;
  },
};
