import type { ClientImpl } from '../clients/connector.ts';
import type { Comparison } from '../lib/report.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { type FanoutRun, anomalies, fanoutRows, measureFanout } from './fanout.ts';
import { type ClientGroup, type ServerHandle, startClients, startServer, stopRun } from './harness.ts';
import { collectProfile, goal, percent, ratioOf, type Scenario, type ScenarioReport, times } from './scenario.ts';

interface HttpPeer {
  label: string;
  server: ServerConfig;
  client: ClientImpl;
}

const SSE: HttpPeer[] = [
  { label: 'Atmosphere', server: { impl: 'atmosphere', heartbeatMs: 30_000 }, client: 'atmosphere-sse' },
  { label: 'raw SSE', server: { impl: 'raw-http', heartbeatMs: 0 }, client: 'raw-sse' },
];

const LONG_POLLING: HttpPeer[] = [
  { label: 'Atmosphere', server: { impl: 'atmosphere', heartbeatMs: 30_000 }, client: 'atmosphere-long-polling' },
  { label: 'raw long-poll', server: { impl: 'raw-http', heartbeatMs: 0 }, client: 'raw-long-polling' },
  { label: 'Socket.IO polling', server: { impl: 'socketio', heartbeatMs: 30_000, transports: ['polling'] }, client: 'socketio-polling' },
];

/** Scenario 4: SSE and long-polling fan-out against raw node:http and Socket.IO polling. */
export const httpScenario: Scenario = {
  id: 'http',
  title: '4. SSE and long-polling fan-out',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: {} };
    const count = options.httpClients;
    const measure = async (transport: string, peers: HttpPeer[]): Promise<(FanoutRun | undefined)[]> => {
      const runs: (FanoutRun | undefined)[] = [];
      const notes: string[] = [];
      for (const peer of peers) {
        const label = `${transport}-${count}-${peer.server.impl}`;
        let server: ServerHandle | undefined;
        let group: ClientGroup | undefined;
        try {
          server = await startServer(context, peer.server, label);
          context.log(`${label}: connecting ${count} ${peer.client} clients`);
          group = await startClients(context, server, { impl: peer.client, count, processes: options.clientProcesses }, label);
          if (group.connected === 0) throw new Error(`no client could connect: ${group.firstError ?? 'unknown'}`);
          const measured = await measureFanout(context, server, group, label);
          const run: FanoutRun = { impl: peer.label, clients: count, connected: group.connected, ...measured };
          runs.push(run);
          notes.push(...anomalies(peer.label, run));
        } finally {
          await stopRun(server, group);
          await collectProfile(context, server, report.profiles);
        }
      }
      const comparison: Comparison = {
        title: `${transport === 'sse' ? 'SSE' : 'Long-polling'}, N = ${count.toLocaleString('en-US')} clients`,
        columns: peers.map((p) => p.label),
        baseline: 1,
        rows: fanoutRows(runs),
        notes,
      };
      report.comparisons.push(comparison);
      return runs;
    };
    const sse = await measure('sse', SSE);
    const longPolling = await measure('long-polling', LONG_POLLING);
    report.goals.push(
      goal('SSE fan-out: Atmosphere ≥ 90 % of raw SSE msg/s', ratioOf(sse[0]?.max.messagesPerSecond, sse[1]?.max.messagesPerSecond), 0.9, 'atLeast', percent),
      goal(
        'Long-polling fan-out: Atmosphere ≥ 1.3× Socket.IO polling msg/s',
        ratioOf(longPolling[0]?.max.messagesPerSecond, longPolling[2]?.max.messagesPerSecond),
        1.3,
        'atLeast',
        times,
      ),
    );
    report.data = { sse, longPolling };
    return report;
  },
};
