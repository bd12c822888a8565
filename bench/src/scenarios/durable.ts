import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dropRedisKeys, redisAnswers } from '../lib/system.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { measureSessionMemory, type SessionMemoryRun } from './durable-memory.ts';
import { measureRestarts, type RestartRun, type RestartStore } from './durable-restart.ts';
import { type ClientGroup, type ServerHandle, startClients, startServer, stopRun } from './harness.ts';
import { goal, percent, ratioOf, type Scenario, type ScenarioReport, WS_CLIENTS } from './scenario.ts';
import { median, streamOnce, type StreamResult, WARM_BURSTS } from './tokens.ts';

/** The stores a token burst is appended to, memory (the runtime's default) first: the baseline. */
type Store = 'memory' | 'sqlite' | 'redis';

const STORE_LABELS: Record<Store, string> = {
  memory: 'memory log',
  sqlite: 'SQLite log',
  redis: 'Redis log',
};

/** Frames read back from each store, as a client resuming after 1 000 missed frames makes the server do. */
const REPLAY_FRAMES = 1_000;

interface StoreRun {
  store: Store;
  burst: StreamResult[];
  framesPerSecond: number;
  serverCpuPerFrameUs: number;
  replayMs: number[];
}

/**
 * Scenario 8: what durability costs. The token burst of scenario 3 through Atmosphere with each stream log
 * store — every frame appended to the log before it is sent — and a read of the last 1 000 frames back from
 * each store, as a client resuming after 1 000 missed frames makes the server do; the memory per idle client
 * holding a durable session in each session store (durable-memory.ts); and the restart-to-resume time after
 * kill -9 with each durable store (durable-restart.ts).
 */
export const durableScenario: Scenario = {
  id: 'durable',
  title: '8. Durability: token burst, replay, memory per session and restart-to-resume with each store',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    const folder = mkdtempSync(join(tmpdir(), 'atmosphere-bench-durable-'));
    const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
    const stores: Store[] = ['memory', 'sqlite'];
    const redis = await redisAnswers(redisUrl);
    const runPrefix = `atmosphere-bench-${process.pid}-${Date.now()}`;
    if (redis) stores.push('redis');
    else
      report.notes.push(`No Redis answered at ${redisUrl} (REDIS_URL): the Redis stores were not measured.`);
    const configs: Record<Store, ServerConfig> = {
      memory: { impl: 'atmosphere', heartbeatMs: 30_000 },
      sqlite: {
        impl: 'atmosphere',
        heartbeatMs: 30_000,
        log: { store: 'sqlite', file: join(folder, 'bench.sqlite') },
      },
      redis: {
        impl: 'atmosphere',
        heartbeatMs: 30_000,
        log: { store: 'redis', url: redisUrl, prefix: `${runPrefix}:` },
      },
    };
    const setups: { store: Store; server: ServerHandle; group: ClientGroup }[] = [];
    const runs = new Map<Store, StoreRun>();
    let sessions: Awaited<ReturnType<typeof measureSessionMemory>> | undefined;
    let restarts: Awaited<ReturnType<typeof measureRestarts>> | undefined;
    try {
      try {
        await burstAndReplay();
      } finally {
        for (const { server, group } of setups) await stopRun(server, group);
      }
      sessions = await measureSessionMemory(context, {
        count: options.durableSessions,
        folder,
        redisUrl: redis ? redisUrl : undefined,
      });
      const restartStores: RestartStore[] = [
        { label: 'SQLite store', store: join(folder, 'restart.sqlite') },
      ];
      if (redis)
        restartStores.push({ label: 'Redis store', store: redisUrl, prefix: `${runPrefix}-restart:` });
      restarts = await measureRestarts(context, restartStores, options.restartKills);
    } finally {
      rmSync(folder, { recursive: true, force: true });
      // The run's keys (stream logs, sessions, runs), which would otherwise expire in a day.
      if (redis) await dropRedisKeys(redisUrl, `${runPrefix}*`).catch(() => undefined);
    }
    async function burstAndReplay(): Promise<void> {
      for (const store of stores) {
        const label = `durable-${store}`;
        const server = await startServer(context, configs[store], label);
        const group = await startClients(
          context,
          server,
          { impl: WS_CLIENTS.atmosphere, count: 1, processes: 1, payload: 'frames' },
          label,
        ).catch(async (error: unknown) => {
          await stopRun(server, undefined);
          throw error;
        });
        setups.push({ store, server, group });
        if (group.connected !== 1)
          throw new Error(`${label}: the client could not connect: ${group.firstError ?? 'unknown'}`);
        runs.set(store, {
          store,
          burst: [],
          framesPerSecond: 0,
          serverCpuPerFrameUs: 0,
          replayMs: [],
        });
        // Warm-up (module loading, JIT, the store's first writes), not measured: bursts of the measured size, so
        // the first rounds do not measure the compiler (500 frames left rounds 1 and 2 at a third to half speed).
        for (let warm = 0; warm < WARM_BURSTS; warm++)
          await streamOnce(server, group, { count: options.tokenFrames, intervalMs: 0 });
      }
      // Rounds interleave the stores, so load from elsewhere lands on all alike.
      for (let round = 0; round < options.tokenRounds; round++) {
        for (let i = 0; i < setups.length; i++) {
          const { store, server, group } = setups[(i + round) % setups.length]!;
          const run = runs.get(store)!;
          context.log(`durable-${store} round ${round + 1}: ${options.tokenFrames} frames back to back`);
          const { result } = await streamOnce(server, group, { count: options.tokenFrames, intervalMs: 0 });
          run.burst.push(result);
          const read = await server.child.call<{ micros: number; records: number }>('readLog', {
            count: REPLAY_FRAMES,
          });
          if (read.records < Math.min(REPLAY_FRAMES, options.tokenFrames))
            report.notes.push(
              `${STORE_LABELS[store]}: the read gave ${read.records} of ${REPLAY_FRAMES} records.`,
            );
          run.replayMs.push(read.micros / 1000);
        }
      }
    }
    const list = stores.map((store) => runs.get(store)!);
    for (const run of list) {
      run.framesPerSecond = median(run.burst.map((r) => r.framesPerSecond));
      run.serverCpuPerFrameUs = median(run.burst.map((r) => r.serverCpuPerFrameUs));
      const lost = run.burst.filter((r) => r.received < r.frames);
      if (lost.length > 0)
        report.notes.push(`${STORE_LABELS[run.store]}: ${lost.length} burst(s) did not arrive whole.`);
    }
    const memory = runs.get('memory');
    report.comparisons.push({
      title: `Token burst of ${options.tokenFrames} frames to one WebSocket client with each stream log, ${options.tokenRounds} rounds; read of the last ${REPLAY_FRAMES} frames`,
      columns: list.map((run) => STORE_LABELS[run.store]),
      baseline: 0,
      rows: [
        {
          metric: 'Burst: frames/s (median of rounds)',
          unit: 'frames/s',
          values: list.map((run) => run.framesPerSecond),
        },
        {
          metric: 'Burst: server CPU per frame (append included)',
          unit: 'µs',
          values: list.map((run) => run.serverCpuPerFrameUs),
          digits: 2,
        },
        {
          metric: `Read of ${REPLAY_FRAMES} frames from the store (median)`,
          unit: 'ms',
          values: list.map((run) => median(run.replayMs)),
          digits: 2,
        },
      ],
      notes: [
        'Atmosphere with `@atmosphere/durable-sessions` providing the stream log (SQLite on a fresh file in the temp folder; Redis at REDIS_URL ' +
          'under a prefix of its own): every frame is appended before it is sent, the messages of a turn in one append call (`batchAppends`): one transaction (SQLite) ' +
          'or one script call (Redis). The read is `log.read()` in the server process, paged as a resume pages it.',
      ],
    });
    for (const store of ['sqlite', 'redis'] as const) {
      const run = runs.get(store);
      if (!run) continue;
      report.goals.push(
        goal(
          `Token burst with the ${STORE_LABELS[store]} ≥ 80 % of the memory log's frames/s`,
          ratioOf(run.framesPerSecond, memory?.framesPerSecond),
          0.8,
          'atLeast',
          percent,
        ),
        goal(
          `Replay of ${REPLAY_FRAMES} frames from the ${STORE_LABELS[store]} ≤ 50 ms`,
          median(run.replayMs),
          50,
          'atMost',
          (v) => `${v.toFixed(1)} ms`,
        ),
      );
    }
    if (sessions) {
      report.comparisons.push(sessions.comparison);
      report.notes.push(...sessions.notes);
    }
    if (restarts) {
      report.comparisons.push(restarts.comparison);
      report.goals.push(...restarts.goals);
      report.notes.push(...restarts.notes);
    }
    const data: { burst: StoreRun[]; sessions?: SessionMemoryRun[]; restarts?: RestartRun[] } = {
      burst: list,
    };
    if (sessions) data.sessions = sessions.runs;
    if (restarts) data.restarts = restarts.runs;
    report.data = data;
    return report;
  },
};
