import { CrashClient, CrashServer, FULL_TEXT, type KillOutcome, killDuringAnswer } from './crash-harness.ts';

/** Where a series runs: a SQLite file, or a `redis://` URL and the prefix of the keys. */
export interface KillSeriesOptions {
  readonly store: string;
  readonly prefix?: string;
  readonly transport: 'websocket' | 'sse' | 'long-polling';
  readonly kills: number;
  readonly policy: 'continue' | 'close';
  /** Called after each kill with what it gave. */
  readonly onKill?: (index: number, outcome: KillOutcome) => void;
}

/** What a series of kills gave, summed over its kills. */
export interface KillSeries {
  readonly kills: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly wireDuplicated: number;
  /** Texts at the client that differ from the log, or are not a prefix of the whole answer. */
  readonly mismatched: number;
  readonly interrupted: number;
  readonly continued: number;
  /** Policy continue: answers that did not end complete with their whole text. */
  readonly incomplete: number;
  readonly resent: number;
  /** Restarts whose session frame was not `resumed` (the token refused, or a new session). */
  readonly notResumed: number;
  /** ms from spawning the process again to its listening, one per kill. */
  readonly restartMs: readonly number[];
  /** ms from the new process listening to the first frame it sent the client, one per kill that needed one. */
  readonly resumeMs: readonly number[];
}

/**
 * One server process and one `@atmosphere/client` following its AI answers: `kills` times a prompt, a SIGKILL
 * at a random point of the answer, a restart on the same port and store, and the client's recovery to the
 * run's end (crash-harness.ts `killDuringAnswer`). Stops the process before it returns.
 */
export async function killSeries(options: KillSeriesOptions): Promise<KillSeries> {
  const server = await CrashServer.start(options.store, options.policy, options.prefix);
  const client = new CrashClient(server.url(), options.transport);
  const totals = {
    kills: 0,
    lost: 0,
    duplicated: 0,
    wireDuplicated: 0,
    mismatched: 0,
    interrupted: 0,
    continued: 0,
    incomplete: 0,
    resent: 0,
    notResumed: 0,
  };
  const restartMs: number[] = [];
  const resumeMs: number[] = [];
  try {
    for (let i = 0; i < options.kills; i++) {
      const outcome = await killDuringAnswer(
        server,
        client,
        1 + Math.floor(Math.random() * 38),
        `prompt ${i}`,
      );
      totals.kills++;
      totals.lost += outcome.lost;
      totals.duplicated += outcome.duplicated;
      totals.wireDuplicated += outcome.wireDuplicated;
      if (outcome.clientText !== outcome.logText || !FULL_TEXT.startsWith(outcome.clientText))
        totals.mismatched++;
      if (outcome.end === 'INTERRUPTED') totals.interrupted++;
      if (outcome.continuedFrom !== undefined) totals.continued++;
      if (options.policy === 'continue' && (outcome.end !== 'complete' || outcome.clientText !== FULL_TEXT))
        totals.incomplete++;
      if (outcome.session.status !== 'resumed' || outcome.session.refused !== undefined) totals.notResumed++;
      totals.resent += outcome.resent;
      if (outcome.resumeMs !== undefined) resumeMs.push(outcome.resumeMs);
      restartMs.push(outcome.restartMs);
      options.onKill?.(i, outcome);
    }
  } finally {
    await client.close();
    await server.close();
  }
  return { ...totals, restartMs, resumeMs };
}

/** The p-th percentile (nearest rank) of `values`; NaN when there are none. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
