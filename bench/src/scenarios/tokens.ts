import type { ClientStats } from '../clients/client-main.ts';
import { canPin } from '../lib/child.ts';
import type { CpuSample } from '../lib/endpoint.ts';
import { Histogram, type LatencySummary, summarize } from '../lib/histogram.ts';
import type { Impl } from '../options.ts';
import type { ServerConfig, TokenStream } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { type ClientGroup, type ServerHandle, startClients, startServer, stopRun } from './harness.ts';
import {
  collectProfile,
  goal,
  LABELS,
  percent,
  ratioOf,
  type Scenario,
  type ScenarioReport,
  WS_CLIENTS,
  wsServer,
} from './scenario.ts';

/** One stream: frames/s from the first send to the last receive, and per-frame one-way latency. */
export interface StreamResult {
  /** Server CPU per frame (µs), from before the first send until the call returned. */
  serverCpuPerFrameUs: number;
  /** Client process CPU per frame (µs), until the last frame arrived. */
  clientCpuPerFrameUs: number;
  frames: number;
  received: number;
  framesPerSecond: number;
  latency: LatencySummary;
}

interface TokensRun {
  /** The contender: an implementation, or Atmosphere with metrics (and tracing). */
  key: string;
  impl: Impl;
  burst: StreamResult[];
  paced: StreamResult[];
  burstFramesPerSecond: number;
  burstLatency: LatencySummary;
  pacedLatency: LatencySummary;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** Streams once and matches each frame's send time (server) with its receive time (client). */
export async function streamOnce(
  server: ServerHandle,
  clients: ClientGroup,
  stream: TokenStream,
): Promise<{ result: StreamResult; histogram: Histogram }> {
  const client = clients.children[0]!;
  await client.call('reset');
  const clientCpu0 = await client.call<CpuSample>('cpu');
  const cpu0 = await server.child.call<CpuSample>('cpu');
  const sentAt = await server.child.call<number[]>('stream', stream, 60_000);
  const cpu1 = await server.child.call<CpuSample>('cpu');
  const seqs = sentAt.map((at, seq) => (at === undefined ? -1 : seq)).filter((seq) => seq >= 0);
  const last = seqs[seqs.length - 1] ?? 0;
  // Once the last token frame arrived (bounded).
  const receivedAt = await client.call<number[]>('frameTimes', { seq: last, timeoutMs: 10_000 }, 15_000);
  const clientCpu1 = await client.call<CpuSample>('cpu');
  const histogram = new Histogram();
  let received = 0;
  let lastReceived = 0;
  for (const seq of seqs) {
    const at = receivedAt[seq];
    if (at === undefined) continue;
    received++;
    histogram.record((at - sentAt[seq]!) * 1000);
    if (at > lastReceived) lastReceived = at;
  }
  const first = sentAt[seqs[0] ?? 0] ?? 0;
  return {
    result: {
      serverCpuPerFrameUs: (cpu1.user - cpu0.user + cpu1.system - cpu0.system) / Math.max(1, seqs.length),
      clientCpuPerFrameUs:
        (clientCpu1.user - clientCpu0.user + clientCpu1.system - clientCpu0.system) /
        Math.max(1, seqs.length),
      frames: seqs.length,
      received,
      framesPerSecond: received / ((lastReceived - first) / 1000),
      latency: summarize(histogram),
    },
    histogram,
  };
}

/** Unmeasured bursts of the measured size per server before the rounds (token and durability scenarios). */
export const WARM_BURSTS = 8;

const SERVER_CPU = '0';
const CLIENT_CPU = '1';

/** A column of the token scenario: an implementation, or Atmosphere again with metrics (and tracing) on. */
interface TokenContender {
  key: string;
  label: string;
  impl: Impl;
  server: ServerConfig;
}

const METRICS_KEY = 'atmosphere-metrics';
const TRACING_KEY = 'atmosphere-tracing';

/**
 * Atmosphere and raw ws; with `--tracing`, Atmosphere again with Prometheus metrics, and with metrics and
 * OpenTelemetry tracing in each mode given, next to it (the cost of observability on the token path).
 */
function tokenContenders(impls: readonly Impl[], tracing: readonly string[]): TokenContender[] {
  const contenders: TokenContender[] = [];
  for (const impl of impls) {
    contenders.push({ key: impl, label: LABELS[impl], impl, server: wsServer(impl, 30_000) });
    if (impl !== 'atmosphere' || tracing.length === 0) continue;
    contenders.push({
      key: METRICS_KEY,
      label: 'Atmosphere + metrics',
      impl,
      server: { ...wsServer(impl, 30_000), metrics: true },
    });
    for (const mode of tracing)
      contenders.push({
        key: `${TRACING_KEY}-${mode}`,
        label: `Atmosphere + metrics + tracing (${mode})`,
        impl,
        server: {
          ...wsServer(impl, 30_000),
          metrics: true,
          ...(mode === 'unsampled-always'
            ? { tracing: 'unsampled', broadcastSpans: 'always' }
            : { tracing: mode as 'unsampled' | 'sampled' }),
        },
      });
  }
  return contenders;
}

/** Scenario 3: AI token frames through StreamingSession vs the same JSON over raw ws. */
export const tokensScenario: Scenario = {
  id: 'tokens',
  title: '3. Token streaming (AI frames, one client)',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const impls = (['atmosphere', 'ws'] as const).filter((i) => options.impls.includes(i));
    const contenders = tokenContenders(impls, options.tracing);
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    const runs: TokensRun[] = [];
    const setups: { contender: TokenContender; server: ServerHandle; group: ClientGroup }[] = [];
    const results = new Map<
      string,
      { burst: StreamResult[]; paced: StreamResult[]; burstHistogram: Histogram; pacedHistogram: Histogram }
    >();
    try {
      for (const contender of contenders) {
        const label = `tokens-${contender.key}`;
        // Server and client on CPUs of their own, the same for both implementations: one frame's latency
        // depends on where the scheduler puts the two processes (waking a process on another core, or behind
        // the server on the same one), by more than the difference measured here.
        const server = await startServer(context, contender.server, label, { cpus: SERVER_CPU });
        const group = await startClients(
          context,
          server,
          { impl: WS_CLIENTS[contender.impl], count: 1, processes: 1, payload: 'frames', cpus: CLIENT_CPU },
          label,
        ).catch(async (error: unknown) => {
          await stopRun(server, undefined);
          throw error;
        });
        setups.push({ contender, server, group });
        if (group.connected !== 1)
          throw new Error(`${label}: the client could not connect: ${group.firstError ?? 'unknown'}`);
        results.set(contender.key, {
          burst: [],
          paced: [],
          burstHistogram: new Histogram(),
          pacedHistogram: new Histogram(),
        });
        // Warm-up (module loading, JIT), not measured: bursts of the measured size, so the first rounds do not
        // measure the compiler.
        for (let warm = 0; warm < WARM_BURSTS; warm++)
          await streamOnce(server, group, { count: options.tokenFrames, intervalMs: 0 });
      }
      // Rounds interleave the implementations, so load from elsewhere lands on both alike.
      for (let round = 0; round < options.tokenRounds; round++) {
        for (let i = 0; i < setups.length; i++) {
          const { contender, server, group } = setups[(i + round) % setups.length]!;
          const result = results.get(contender.key)!;
          context.log(
            `tokens-${contender.key} round ${round + 1}: ${options.tokenFrames} frames back to back, ${options.pacedTokenFrames} at ${options.tokenRate}/s`,
          );
          const b = await streamOnce(server, group, { count: options.tokenFrames, intervalMs: 0 });
          result.burst.push(b.result);
          result.burstHistogram.merge(b.histogram.snapshot());
          const p = await streamOnce(server, group, {
            count: options.pacedTokenFrames,
            intervalMs: 1000 / options.tokenRate,
          });
          result.paced.push(p.result);
          result.pacedHistogram.merge(p.histogram.snapshot());
        }
      }
      for (const { contender, group } of setups) {
        const result = results.get(contender.key)!;
        for (const [kind, list] of [
          ['burst', result.burst],
          ['paced', result.paced],
        ] as const) {
          for (const r of list) {
            if (r.received < r.frames)
              report.notes.push(`${contender.label} ${kind}: ${r.received} of ${r.frames} frames arrived.`);
          }
        }
        const stats = await group.children[0]!.call<ClientStats>('stats');
        if (stats.closedUnexpectedly > 0)
          report.notes.push(`${contender.label}: the client was disconnected during the run.`);
        runs.push({
          key: contender.key,
          impl: contender.impl,
          burst: result.burst,
          paced: result.paced,
          burstFramesPerSecond: median(result.burst.map((r) => r.framesPerSecond)),
          burstLatency: summarize(result.burstHistogram),
          pacedLatency: summarize(result.pacedHistogram),
        });
      }
    } finally {
      for (const { server, group } of setups) {
        await stopRun(server, group);
        await collectProfile(context, server, report.profiles);
      }
    }
    const find = (key: string): TokensRun | undefined => runs.find((r) => r.key === key);
    const value = (pick: (run: TokensRun) => number): (number | null)[] =>
      contenders.map((contender) => {
        const run = find(contender.key);
        return run ? pick(run) : null;
      });
    const atmo = find('atmosphere');
    const raw = find('ws');
    report.comparisons.push({
      title: `${options.tokenFrames} frames back to back and ${options.pacedTokenFrames} at ${options.tokenRate}/s, ${options.tokenRounds} rounds`,
      columns: contenders.map((contender) => contender.label),
      baseline: Math.max(
        0,
        contenders.findIndex((contender) => contender.key === 'ws'),
      ),
      rows: [
        {
          metric: 'Burst: frames/s (median of rounds)',
          unit: 'frames/s',
          values: value((r) => r.burstFramesPerSecond),
        },
        {
          metric: 'Burst: server CPU per frame',
          unit: 'µs',
          values: value((r) => median(r.burst.map((b) => b.serverCpuPerFrameUs))),
          digits: 2,
        },
        {
          metric: 'Burst: client CPU per frame',
          unit: 'µs',
          values: value((r) => median(r.burst.map((b) => b.clientCpuPerFrameUs))),
          digits: 2,
        },
        { metric: 'Burst: latency p50', unit: 'µs', values: value((r) => r.burstLatency.p50) },
        { metric: 'Burst: latency p99', unit: 'µs', values: value((r) => r.burstLatency.p99) },
        { metric: 'Paced: latency p50', unit: 'µs', values: value((r) => r.pacedLatency.p50) },
        { metric: 'Paced: latency p99', unit: 'µs', values: value((r) => r.pacedLatency.p99) },
      ],
      notes: [
        'Atmosphere: `createResourceSession(resource)` from @atmosphere/ai, `session.send(token)` per frame (broadcast to the resource through its ' +
          "path's broadcaster). Raw ws: the same JSON frame built with a template string and `ws.send`.",
        canPin()
          ? `Each server runs on CPU ${SERVER_CPU} and its client on CPU ${CLIENT_CPU} (\`taskset\`), for both implementations alike.`
          : "Processes are not pinned to CPUs here (no `taskset`): where the scheduler puts server and client moves one frame's latency by tens of µs.",
      ],
    });
    const added = atmo && raw ? atmo.pacedLatency.p50 - raw.pacedLatency.p50 : null;
    report.goals.push(
      goal(
        'Token frames: added latency p50 over raw ws ≤ 50 µs (paced)',
        added,
        50,
        'atMost',
        (v) => `${v.toFixed(0)} µs`,
      ),
      goal(
        'Token burst ≥ 85 % of raw ws frames/s',
        ratioOf(atmo?.burstFramesPerSecond, raw?.burstFramesPerSecond),
        0.85,
        'atLeast',
        percent,
      ),
    );
    // The cost of observability on the token path (`--tracing`): frames/s of a burst against plain Atmosphere.
    for (const [key, what] of [
      [METRICS_KEY, 'with Prometheus metrics on'],
      [`${TRACING_KEY}-unsampled`, 'with metrics and tracing on (unsampled)'],
    ] as const) {
      const measured = find(key);
      if (measured && atmo)
        report.goals.push(
          goal(
            `Token burst ${what}: ≥ 97 % of Atmosphere's frames/s`,
            ratioOf(measured.burstFramesPerSecond, atmo.burstFramesPerSecond),
            0.97,
            'atLeast',
            percent,
          ),
        );
    }
    report.data = runs;
    return report;
  },
};
