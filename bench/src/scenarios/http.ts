import type { BenchContext } from './context.ts';
import { compareFanout, type Contender, fanoutRows } from './fanout.ts';
import { goal, percent, ratioOf, type Scenario, type ScenarioReport, times } from './scenario.ts';

const SSE: Contender[] = [
  {
    key: 'atmosphere',
    label: 'Atmosphere',
    server: { impl: 'atmosphere', heartbeatMs: 30_000 },
    client: 'atmosphere-sse',
  },
  { key: 'raw', label: 'raw SSE', server: { impl: 'raw-http', heartbeatMs: 0 }, client: 'raw-sse' },
];

const LONG_POLLING: Contender[] = [
  {
    key: 'atmosphere',
    label: 'Atmosphere',
    server: { impl: 'atmosphere', heartbeatMs: 30_000 },
    client: 'atmosphere-long-polling',
  },
  {
    key: 'raw',
    label: 'raw long-poll',
    server: { impl: 'raw-http', heartbeatMs: 0 },
    client: 'raw-long-polling',
  },
  {
    key: 'socketio',
    label: 'Socket.IO polling',
    server: { impl: 'socketio', heartbeatMs: 30_000, transports: ['polling'] },
    client: 'socketio-polling',
  },
];

/** Scenario 4: SSE and long-polling fan-out against raw node:http and Socket.IO polling. */
export const httpScenario: Scenario = {
  id: 'http',
  title: '4. SSE and long-polling fan-out',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const count = context.options.httpClients;
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: {} };
    const sse = await compareFanout(context, SSE, count, 'sse', report);
    report.comparisons.push({
      title: `SSE, N = ${count.toLocaleString('en-US')} clients`,
      columns: SSE.map((c) => c.label),
      baseline: 1,
      rows: fanoutRows(sse.runs),
      notes: sse.notes,
    });
    const longPolling = await compareFanout(context, LONG_POLLING, count, 'long-polling', report);
    report.comparisons.push({
      title: `Long-polling, N = ${count.toLocaleString('en-US')} clients`,
      columns: LONG_POLLING.map((c) => c.label),
      baseline: 1,
      rows: fanoutRows(longPolling.runs),
      notes: longPolling.notes,
    });
    const [atmoSse, rawSse] = sse.runs;
    const [atmoLp, , sioLp] = longPolling.runs;
    report.goals.push(
      goal(
        'SSE fan-out: Atmosphere ≥ 90 % of raw SSE msg/s',
        ratioOf(atmoSse?.max.messagesPerSecond, rawSse?.max.messagesPerSecond),
        0.9,
        'atLeast',
        percent,
      ),
      goal(
        'Long-polling fan-out: Atmosphere ≥ 1.3× Socket.IO polling msg/s',
        ratioOf(atmoLp?.max.messagesPerSecond, sioLp?.max.messagesPerSecond),
        1.3,
        'atLeast',
        times,
      ),
    );
    report.data = { sse: sse.runs, longPolling: longPolling.runs };
    return report;
  },
};
