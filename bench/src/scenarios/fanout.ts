import type { Impl } from '../options.ts';
import type { Comparison } from '../lib/report.ts';
import type { BenchContext } from './context.ts';
import { type ClientGroup, FanoutSession, type PhaseResult, type ServerHandle, startClients, startServer, stopRun } from './harness.ts';
import {
  baselineIndex,
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

/** The measured phases of one implementation at one size. */
export interface FanoutRun {
  /** The implementation (or, for the HTTP runs, the column label). */
  impl: string;
  clients: number;
  connected: number;
  max: PhaseResult;
  paced: PhaseResult;
  pacedRate: number;
}

/** Broadcasts in flight for a max-rate phase: about `windowMessages` deliveries, at least 4 broadcasts. */
export function windowFor(clients: number, windowMessages: number): number {
  return Math.max(4, Math.round(windowMessages / clients));
}

/** Runs warm-up, max-rate and paced phases against one server; returns the measured phases. */
export async function measureFanout(
  context: BenchContext,
  server: ServerHandle,
  clients: ClientGroup,
  label: string,
): Promise<{ max: PhaseResult; paced: PhaseResult; pacedRate: number }> {
  const { options } = context;
  const session = new FanoutSession(server, clients);
  const window = windowFor(clients.connected, options.windowMessages);
  const drainMs = options.quick ? 5_000 : 15_000;
  context.log(`${label}: warm-up`);
  await session.phase({ mode: 'max', durationMs: Math.min(1000, options.maxDurationMs / 2), window, drainMs });
  context.log(`${label}: max rate for ${options.maxDurationMs} ms (window ${window} broadcasts)`);
  const max = await session.phase({ mode: 'max', durationMs: options.maxDurationMs, window, drainMs });
  const pacedRate = Math.max(1, options.pacedMessagesPerSecond / Math.max(1, clients.connected));
  context.log(`${label}: paced at ${pacedRate.toFixed(1)} broadcasts/s for ${options.pacedDurationMs} ms`);
  const paced = await session.phase({ mode: 'paced', durationMs: options.pacedDurationMs, rate: pacedRate, drainMs });
  return { max, paced, pacedRate };
}

/** Rows shared by the WebSocket and HTTP fan-out tables. */
export function fanoutRows(runs: (FanoutRun | undefined)[]): Comparison['rows'] {
  const value = (pick: (run: FanoutRun) => number) => runs.map((run) => (run ? pick(run) : null));
  return [
    { metric: 'Delivered messages/s, max rate', unit: 'msg/s', values: value((r) => r.max.messagesPerSecond) },
    { metric: 'Server CPU per delivered message, max rate', unit: 'µs', values: value((r) => r.max.serverCpuPerMessageUs), digits: 2 },
    { metric: 'Server CPU, max rate', unit: '% of a core', values: value((r) => r.max.serverCpu.percent), ratio: false },
    { metric: 'Client processes CPU, max rate', unit: '% of a core', values: value((r) => r.max.clientCpu.percent), ratio: false },
    { metric: 'Server waiting for slow clients, max rate', unit: '% of time', values: value((r) => r.max.creditWait * 100), ratio: false },
    { metric: 'Latency p50, max rate', unit: 'ms', values: value((r) => r.max.latency.p50 / 1000), digits: 2 },
    { metric: 'Latency p99, max rate', unit: 'ms', values: value((r) => r.max.latency.p99 / 1000), digits: 2 },
    { metric: 'Latency p50, paced', unit: 'ms', values: value((r) => r.paced.latency.p50 / 1000), digits: 2 },
    { metric: 'Latency p99, paced', unit: 'ms', values: value((r) => r.paced.latency.p99 / 1000), digits: 2 },
    { metric: 'Server CPU per delivered message, paced', unit: 'µs', values: value((r) => r.paced.serverCpuPerMessageUs), digits: 2 },
  ];
}

/** Notes for phases that did not deliver everything (a slow-client disconnect, a timeout). */
export function anomalies(label: string, run: FanoutRun): string[] {
  const notes: string[] = [];
  for (const phase of [run.max, run.paced]) {
    if (!phase.complete || phase.closedUnexpectedly > 0 || phase.foreign > 0 || run.connected < run.clients) {
      notes.push(
        `${label} (${phase.mode}): ${phase.delivered} of ${phase.expected} expected messages delivered` +
          `${phase.complete ? '' : ' before the drain timeout'}; ${run.connected}/${run.clients} connected; ` +
          `${phase.closedUnexpectedly} closed unexpectedly; ${phase.foreign} unparsable.`,
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
    const impls = orderImpls(options.impls);
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    const data: FanoutRun[] = [];
    for (const clients of options.fanoutClients) {
      const runs: (FanoutRun | undefined)[] = [];
      const notes: string[] = [];
      for (const impl of impls) {
        const label = `fanout-${clients}-${impl}`;
        let server: ServerHandle | undefined;
        let group: ClientGroup | undefined;
        try {
          server = await startServer(context, wsServer(impl, 30_000), label);
          context.log(`${label}: connecting ${clients} clients over ${options.clientProcesses} processes`);
          group = await startClients(context, server, { impl: WS_CLIENTS[impl], count: clients, processes: options.clientProcesses }, label);
          if (group.connected === 0) throw new Error(`no client could connect: ${group.firstError ?? 'unknown'}`);
          const measured = await measureFanout(context, server, group, label);
          const run: FanoutRun = { impl, clients, connected: group.connected, ...measured };
          runs.push(run);
          data.push(run);
          notes.push(...anomalies(LABELS[impl], run));
        } finally {
          await stopRun(server, group);
          await collectProfile(context, server, report.profiles);
        }
      }
      report.comparisons.push({
        title: `N = ${clients.toLocaleString('en-US')} WebSocket clients`,
        columns: impls.map((i) => LABELS[i]),
        baseline: baselineIndex(impls),
        rows: fanoutRows(runs),
        notes: [
          `Paced: ${Math.max(1, options.pacedMessagesPerSecond / clients).toFixed(1)} broadcasts/s (${options.pacedMessagesPerSecond.toLocaleString('en-US')} deliveries/s). ` +
            `Max rate: credit window of ${windowFor(clients, options.windowMessages)} broadcasts beyond the slowest client.`,
          ...notes,
        ],
      });
      const find = (impl: Impl) => runs.find((r) => r?.impl === impl);
      const atmo = find('atmosphere');
      const raw = find('ws');
      const sio = find('socketio');
      report.goals.push(
        goal(`WS fan-out N=${clients}: Atmosphere ≥ 90 % of raw ws msg/s`, ratioOf(atmo?.max.messagesPerSecond, raw?.max.messagesPerSecond), 0.9, 'atLeast', percent),
        goal(
          `WS fan-out N=${clients}: server CPU per message ≤ 1.15× raw ws`,
          ratioOf(atmo?.max.serverCpuPerMessageUs, raw?.max.serverCpuPerMessageUs),
          1.15,
          'atMost',
          times,
        ),
      );
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
