import type { HeapDiff } from '../lib/heap-snapshot.ts';
import type { BenchContext } from './context.ts';
import { type IdleRun, measureIdle, perConnectionRows } from './idle.ts';
import {
  baselineIndex,
  goal,
  LABELS,
  orderImpls,
  ratioOf,
  type Scenario,
  type ScenarioReport,
  times,
  byImpl,
} from './scenario.ts';

/**
 * Connections held before the baseline, so that what the first connections cost once (the connect path's
 * compiled code: 0.5 KiB of heap per connection at N = 2 000 without them) is not counted per connection.
 */
const WARM_CONNECTIONS = 1_000;

/** Scenario 2: memory per idle WebSocket connection. */
export const memoryScenario: Scenario = {
  id: 'memory',
  title: '2. Memory per idle WebSocket connection',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const impls = orderImpls(options.impls);
    const runs: IdleRun[] = [];
    const notes: string[] = [];
    for (const impl of impls) {
      const run = await measureIdle(context, {
        impl,
        count: options.memoryClients,
        processes: options.clientProcesses,
        heartbeatMs: 30_000,
        holdMs: options.quick ? 500 : 2_000,
        connectTimeoutMs: 60_000,
        label: `memory-${options.memoryClients}-${impl}`,
        heapSnapshots: options.profile,
        warmConnections: options.quick ? 100 : WARM_CONNECTIONS,
      });
      runs.push(run);
      if (run.connected < run.target || run.heldByServer < run.connected) {
        notes.push(
          `${LABELS[impl]}: ${run.connected}/${run.target} connected, ${run.heldByServer} held by the server; first error: ${run.firstError ?? 'none'}.`,
        );
      }
    }
    const { find, value } = byImpl(runs, impls);
    const atmo = find('atmosphere');
    const raw = find('ws');
    const sio = find('socketio');
    const goals = [
      goal(
        'Memory per idle connection: Atmosphere RSS ≤ 1.5× raw ws',
        ratioOf(atmo?.rssPerConnection, raw?.rssPerConnection),
        1.5,
        'atMost',
        times,
      ),
    ];
    if (sio && raw)
      notes.push(
        `Socket.IO used ${times(ratioOf(sio.rssPerConnection, raw.rssPerConnection) ?? Number.NaN)} the RSS of raw ws per connection.`,
      );
    return {
      comparisons: [
        {
          title: `N = ${options.memoryClients.toLocaleString('en-US')} idle WebSocket connections (server, after gc(), minus its baseline with ${options.quick ? 100 : WARM_CONNECTIONS} connections already held)`,
          columns: impls.map((i) => LABELS[i]),
          baseline: baselineIndex(impls),
          rows: [
            ...perConnectionRows(value),
            {
              metric: 'Server RSS with all connected',
              unit: 'MiB',
              values: value((r) => r.loaded.rss / 2 ** 20),
              digits: 1,
            },
            {
              metric: 'Server RSS baseline',
              unit: 'MiB',
              values: value((r) => r.baseline.rss / 2 ** 20),
              digits: 1,
              ratio: false,
            },
            { metric: 'Connections opened per second', unit: '/s', values: value((r) => r.rampPerSecond) },
          ],
        },
      ],
      goals,
      notes,
      profiles: [],
      details: runs.filter((r) => r.heap).map((r) => heapTable(LABELS[r.impl], r.heap!)),
      data: runs,
    };
  },
};

/** A heap diff as a collapsed markdown table. */
function heapTable(label: string, heap: HeapDiff): string {
  const lines = [
    `<details><summary>${label}: heap growth per idle connection, by kind of object (${(heap.bytesPerConnection / 1024).toFixed(1)} KiB in all)</summary>`,
    '',
    '| Object | Per connection | Bytes per connection |',
    '|---|---:|---:|',
    ...heap.top.map(
      (g) => `| \`${g.name}\` | ${g.perConnection.toFixed(2)} | ${g.bytesPerConnection.toFixed(0)} |`,
    ),
    '',
    '</details>',
  ];
  return lines.join('\n');
}
