import {
  type KillSeries,
  killSeries,
  percentile,
} from '../../../packages/durable-sessions/test/crash-series.ts';
import type { Comparison, Goal } from '../lib/report.ts';
import type { BenchContext } from './context.ts';
import { goal } from './scenario.ts';

/** Where the killed server keeps its stores: a SQLite file, or a Redis under a prefix of its own. */
export interface RestartStore {
  label: string;
  store: string;
  prefix?: string;
}

/** One store's series of kills. */
export interface RestartRun {
  label: string;
  series: KillSeries;
}

/** The restart-to-resume goal: p99 from the new process listening to the first frame the client gets from it. */
export const RESUME_GOAL_MS = 1_500;

/**
 * Restart-to-resume after `kill -9`: for each store, a real server process (`@atmosphere/durable-sessions`
 * for every kind, an AI endpoint answered by a replayed model) and one `@atmosphere/client` over WebSocket
 * following its answers; `kills` times a prompt, a SIGKILL at a random point of the answer, a restart on the
 * same port and store. The machinery of `pnpm --filter @atmosphere/durable-sessions crash`
 * (packages/durable-sessions/test/crash-series.ts), with its checks: frames lost, duplicated, sessions not
 * resumed.
 */
export async function measureRestarts(
  context: BenchContext,
  stores: readonly RestartStore[],
  kills: number,
): Promise<{ comparison: Comparison; goals: Goal[]; notes: string[]; runs: RestartRun[] }> {
  const runs: RestartRun[] = [];
  for (const { label, store, prefix } of stores) {
    context.log(
      `restart-to-resume, ${label}: ${kills} kills mid-answer (SIGKILL, restart on the same store)`,
    );
    const series = await killSeries({
      store,
      ...(prefix === undefined ? {} : { prefix }),
      transport: 'websocket',
      kills,
      policy: 'close',
    });
    runs.push({ label, series });
  }
  const row = (
    metric: string,
    unit: string,
    pick: (series: KillSeries) => number,
    ratio = true,
  ): Comparison['rows'][number] => ({
    metric,
    unit,
    values: runs.map((run) => pick(run.series)),
    ...(ratio ? {} : { ratio: false }),
  });
  const notes: string[] = [];
  for (const { label, series } of runs) {
    const faults = series.lost + series.duplicated + series.mismatched + series.notResumed;
    if (faults > 0)
      notes.push(
        `${label}: ${series.lost} frame(s) lost, ${series.duplicated} duplicated, ${series.mismatched} text(s) unlike the log, ` +
          `${series.notResumed} session(s) not resumed over ${series.kills} kills.`,
      );
  }
  const comparison: Comparison = {
    title: `Restart-to-resume after kill -9 mid-answer: ${kills} kills per store, one WebSocket client (@atmosphere/client)`,
    columns: runs.map((run) => run.label),
    baseline: 0,
    rows: [
      row('Listening → first resumed frame, p50', 'ms', (s) => percentile(s.resumeMs, 50)),
      row('Listening → first resumed frame, p99', 'ms', (s) => percentile(s.resumeMs, 99)),
      row('Spawn → listening, p50', 'ms', (s) => percentile(s.restartMs, 50)),
      row('Spawn → listening, p99', 'ms', (s) => percentile(s.restartMs, 99)),
      row('Frames lost / duplicated at the client', '', (s) => s.lost + s.duplicated, false),
      row('Sessions not resumed', '', (s) => s.notResumed, false),
    ],
    notes: [
      'The server process keeps every kind (stream log, session store) in the store; it is killed with SIGKILL once the client has a random ' +
        'number (1–38) of the answer’s 40 tokens, then started again on the same port. "Listening" is when the parent reads the new process’s ' +
        '`LISTENING` line; the first resumed frame is the first frame the client accepts from the new process (the missed tokens, or the run’s ' +
        '`INTERRUPTED` end). Spawn → listening is Node’s start, module loading and the stores’ opening.' +
        (kills < 100 ? ` With ${kills} kills, p99 is the slowest of them.` : ''),
    ],
  };
  const goals = runs.map(({ label, series }) =>
    goal(
      `Restart-to-resume with the ${label}: p99 from listening to the first resumed frame ≤ 1.5 s`,
      percentile(series.resumeMs, 99),
      RESUME_GOAL_MS,
      'atMost',
      (v) => `${(v / 1000).toFixed(2)} s`,
    ),
  );
  return { comparison, goals, notes, runs };
}
