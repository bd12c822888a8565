import type { ClientImpl } from '../clients/connector.ts';
import type { LatencySummary } from '../lib/histogram.ts';
import { redisAnswers } from '../lib/system.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { measureRound, medianPhase, windowFor } from './fanout.ts';
import {
  type ClientGroup,
  FanoutSession,
  type PhaseResult,
  type ServerHandle,
  startClients,
  startServer,
  stopRun,
} from './harness.ts';
import { collectProfile, goal, ratioOf, type Scenario, type ScenarioReport, times } from './scenario.ts';

/** A cluster contender: two server processes relaying through one Redis, and the client that speaks to them. */
interface ClusterContender {
  key: string;
  label: string;
  server: (redisUrl: string, key: string) => ServerConfig;
  client: ClientImpl;
}

const CONTENDERS: ClusterContender[] = [
  {
    key: 'atmosphere',
    label: 'Atmosphere + @atmosphere/redis',
    server: (url, key) => ({
      impl: 'atmosphere',
      heartbeatMs: 30_000,
      redis: { url, channelPrefix: `${key}:` },
    }),
    client: 'atmosphere-ws',
  },
  {
    key: 'socketio-redis',
    label: 'Socket.IO + redis-adapter',
    server: (url, key) => ({
      impl: 'socketio',
      heartbeatMs: 30_000,
      transports: ['websocket'],
      socketIoAdapter: { kind: 'redis', url, key },
    }),
    client: 'socketio-ws',
  },
  {
    key: 'socketio-streams',
    label: 'Socket.IO + redis-streams-adapter',
    server: (url, key) => ({
      impl: 'socketio',
      heartbeatMs: 30_000,
      transports: ['websocket'],
      socketIoAdapter: { kind: 'redis-streams', url, key },
    }),
    client: 'socketio-ws',
  },
];

interface ClusterRun {
  key: string;
  label: string;
  clients: number;
  max: PhaseResult;
  paced: PhaseResult;
}

const LOCAL = 'local';
const REMOTE = 'remote';

function latency(phase: PhaseResult, group: string): LatencySummary | undefined {
  return phase.latencyByGroup?.[group];
}

/**
 * Scenario 9: a cluster of two nodes on one Redis, clients split between them, every broadcast made on the
 * first node: Atmosphere with `@atmosphere/redis` against Socket.IO with `@socket.io/redis-adapter` and
 * `@socket.io/redis-streams-adapter`. Delivered messages/s, server CPU of both nodes per delivered message,
 * and the latency of the first node's clients (local) and of the second's (cross-node).
 */
export const clusterScenario: Scenario = {
  id: 'cluster',
  title: '9. Cluster: two nodes on one Redis (WebSocket fan-out across nodes)',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    const redisUrl = process.env['BENCH_REDIS_URL'] ?? process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    if (!(await redisAnswers(redisUrl))) {
      report.notes.push(`No Redis answered at ${redisUrl} (BENCH_REDIS_URL): the cluster was not measured.`);
      return report;
    }
    const clients = options.clusterClients;
    const perNode = Math.floor(clients / 2);
    const window = windowFor(clients, options.windowMessages);
    const drainMs = options.quick ? 5_000 : 15_000;
    const pacedRate = Math.max(1, options.pacedMessagesPerSecond / clients);
    const runs: ClusterRun[] = [];
    for (const contender of CONTENDERS) {
      const label = `cluster-${clients}-${contender.key}`;
      const key = `bench-cluster-${process.pid}-${Date.now()}-${contender.key}`;
      const servers: ServerHandle[] = [];
      const groups: ClientGroup[] = [];
      try {
        for (const node of ['a', 'b'])
          servers.push(await startServer(context, contender.server(redisUrl, key), `${label}-${node}`));
        for (const [i, server] of servers.entries())
          groups.push(
            await startClients(
              context,
              server,
              { impl: contender.client, count: perNode, processes: Math.max(1, options.clientProcesses / 2) },
              `${label}-${i === 0 ? 'a' : 'b'}`,
            ),
          );
        const [local, remote] = groups as [ClientGroup, ClientGroup];
        if (local.connected === 0 || remote.connected === 0)
          throw new Error(
            `${label}: no client could connect: ${local.firstError ?? remote.firstError ?? '?'}`,
          );
        const all: ClientGroup = {
          children: [...local.children, ...remote.children],
          connected: local.connected + remote.connected,
          failed: local.failed + remote.failed,
          firstError: local.firstError ?? remote.firstError,
          rampPerSecond: 0,
        };
        const session = new FanoutSession(servers[0]!, all, {
          cpuServers: servers.slice(1),
          groups: { [LOCAL]: local.children, [REMOTE]: remote.children },
        });
        context.log(
          `${label}: ${all.connected} clients over 2 nodes; warm-up, then ${options.rounds} round(s)`,
        );
        await session.phase({ mode: 'max', durationMs: options.quick ? 300 : 1000, window, drainMs });
        const rounds: { max: PhaseResult; paced: PhaseResult }[] = [];
        for (let round = 0; round < options.rounds; round++)
          rounds.push(await measureRound(session, options, { window, drainMs, pacedRate }));
        const max = medianPhase(rounds.map((r) => r.max));
        const paced = medianPhase(rounds.map((r) => r.paced));
        runs.push({ key: contender.key, label: contender.label, clients: all.connected, max, paced });
        for (const phase of [max, paced])
          if (!phase.complete || phase.delivered < phase.expected)
            report.notes.push(
              `${contender.label} (${phase.mode}): ${phase.delivered} of ${phase.expected} expected messages delivered; ${phase.closedUnexpectedly} client(s) closed unexpectedly.`,
            );
      } catch (error) {
        report.notes.push(`${contender.label}: did not run: ${(error as Error).message}`);
      } finally {
        await stopRun(servers, undefined);
        for (const group of groups) await stopRun(undefined, group);
        for (const server of servers) await collectProfile(context, server, report.profiles);
      }
    }
    const value = (pick: (run: ClusterRun) => number | undefined) =>
      CONTENDERS.map((c) => {
        const run = runs.find((r) => r.key === c.key);
        const v = run ? pick(run) : undefined;
        return v === undefined ? null : v;
      });
    const ms = (summary: LatencySummary | undefined, at: 'p50' | 'p99'): number | undefined =>
      summary === undefined ? undefined : summary[at] / 1000;
    report.comparisons.push({
      title: `${clients.toLocaleString('en-US')} WebSocket clients, half on each of 2 nodes, broadcasts on the first`,
      columns: CONTENDERS.map((c) => c.label),
      baseline: 1,
      rows: [
        {
          metric: 'Delivered messages/s, max rate',
          unit: 'msg/s',
          values: value((r) => r.max.messagesPerSecond),
        },
        {
          metric: 'Server CPU (both nodes) per delivered message, max rate',
          unit: 'µs',
          values: value((r) => r.max.serverCpuPerMessageUs),
          digits: 2,
        },
        ...[LOCAL, REMOTE].flatMap((group) =>
          (['p50', 'p99'] as const).map((at) => ({
            metric: `Latency ${at}, paced, ${group === LOCAL ? 'same node' : 'cross-node'}`,
            unit: 'ms',
            values: value((r) => ms(latency(r.paced, group), at)),
            digits: 2,
          })),
        ),
      ],
      notes: [
        `Median of ${options.rounds} round(s). Max rate: ${options.maxDurationMs / 1000} s with a credit window of ${window} broadcasts beyond the slowest client (of either node). ` +
          `Paced: ${pacedRate.toFixed(1)} broadcasts/s for ${options.pacedDurationMs / 1000} s. Ratios against Socket.IO with its Redis adapter.`,
      ],
    });
    const atmo = runs.find((r) => r.key === 'atmosphere');
    const sio = runs.find((r) => r.key === 'socketio-redis');
    report.goals.push(
      goal(
        `Cluster of 2 nodes: Atmosphere ≥ 1.5× Socket.IO (redis-adapter) delivered msg/s`,
        ratioOf(atmo?.max.messagesPerSecond, sio?.max.messagesPerSecond),
        1.5,
        'atLeast',
        times,
      ),
      goal(
        'Cluster of 2 nodes: Atmosphere cross-node latency p99 ≤ 2× same-node p99 (paced)',
        ratioOf(
          ms(atmo && latency(atmo.paced, REMOTE), 'p99'),
          ms(atmo && latency(atmo.paced, LOCAL), 'p99'),
        ),
        2,
        'atMost',
        times,
      ),
    );
    report.data = runs;
    return report;
  },
};
