import type { ClientImpl } from '../clients/connector.ts';
import { summarizeProfile, type ProfileSummary } from '../lib/cpu-profile.ts';
import { type Comparison, type Goal, ratioOf } from '../lib/report.ts';

export { ratioOf };
import type { Impl } from '../options.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import type { ServerHandle } from './harness.ts';

/** What a scenario hands back to the runner. */
export interface ScenarioReport {
  comparisons: Comparison[];
  goals: Goal[];
  notes: string[];
  profiles: ProfileSummary[];
  /** Further markdown blocks (heap breakdowns, …). */
  details?: string[];
  data: unknown;
}

export interface Scenario {
  id: string;
  title: string;
  run(context: BenchContext): Promise<ScenarioReport>;
}

/**
 * The runs of a comparison by implementation: `find(impl)`, and `value(pick)` — one table cell per
 * implementation in `impls` order (null where it did not run).
 */
export function byImpl<R extends { impl: Impl }>(
  runs: readonly R[],
  impls: readonly Impl[],
): { find: (impl: Impl) => R | undefined; value: (pick: (run: R) => number) => (number | null)[] } {
  const find = (impl: Impl): R | undefined => runs.find((r) => r.impl === impl);
  return {
    find,
    value: (pick) =>
      impls.map((impl) => {
        const run = find(impl);
        return run ? pick(run) : null;
      }),
  };
}

/** Column names of the implementations. */
export const LABELS: Record<Impl, string> = {
  atmosphere: 'Atmosphere',
  ws: 'raw ws',
  'ws-frame-once': 'ws, frame once',
  socketio: 'Socket.IO',
};

/** The WebSocket client that speaks to each implementation. */
export const WS_CLIENTS: Record<Impl, ClientImpl> = {
  atmosphere: 'atmosphere-ws',
  ws: 'ws',
  'ws-frame-once': 'ws',
  socketio: 'socketio-ws',
};

/** The server configuration of each implementation for WebSocket runs. */
export function wsServer(impl: Impl, heartbeatMs: number): ServerConfig {
  return impl === 'socketio' ? { impl, heartbeatMs, transports: ['websocket'] } : { impl, heartbeatMs };
}

/**
 * Column order: Atmosphere first, the raw baseline second, the frame-once ceiling third (only where it differs
 * from raw ws: the fan-out), Socket.IO last (whichever were selected).
 */
export function orderImpls(impls: readonly Impl[], withCeiling = false): Impl[] {
  return (['atmosphere', 'ws', 'ws-frame-once', 'socketio'] as const).filter(
    (i) => impls.includes(i) && (withCeiling || i !== 'ws-frame-once'),
  );
}

/** Index of the raw baseline among the columns, or 0 when it was not selected. */
export function baselineIndex(impls: readonly Impl[]): number {
  const index = impls.indexOf('ws');
  return index === -1 ? 0 : index;
}

/** The profile of a stopped server, summarised (when `--profile` was on). */
export async function collectProfile(
  context: BenchContext,
  server: ServerHandle | undefined,
  into: ProfileSummary[],
): Promise<void> {
  if (!server?.profile) return;
  try {
    into.push(await summarizeProfile(server.profile, context.root));
  } catch (error) {
    context.log(`could not read profile ${server.profile}: ${(error as Error).message}`);
  }
}

/** A goal line: `met` is null when either value is missing. */
export function goal(
  description: string,
  value: number | null,
  target: number,
  direction: 'atLeast' | 'atMost',
  format: (v: number) => string,
): Goal {
  if (value === null || !Number.isFinite(value)) return { description, actual: '–', met: null };
  return {
    description,
    actual: format(value),
    met: direction === 'atLeast' ? value >= target : value <= target,
  };
}

export const percent = (v: number): string => `${(v * 100).toFixed(0)} %`;
export const times = (v: number): string => `${v.toFixed(2)}×`;
