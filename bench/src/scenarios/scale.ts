import { openFileLimits, redisAnswers } from '../lib/system.ts';
import type { BenchContext } from './context.ts';
import { type IdleRun, measureIdle, perConnectionRows } from './idle.ts';
import { baselineIndex, LABELS, orderImpls, type Scenario, type ScenarioReport, byImpl } from './scenario.ts';

/** File descriptors a server process keeps for itself (stdio, IPC, epoll, the listening socket, …). */
const RESERVED_FDS = 256;
/**
 * How full a server process is planned to be, of what its open-file limit allows: the kernel spreads
 * connections over the processes of a port by a hash, so their counts differ by a few per cent.
 */
const PLANNED_FILL = 0.85;
/** Connections per source address: under the ~28 000 ephemeral ports of one address. */
const PER_ADDRESS = 25_000;
/** Connections per client process, so that each stays well under its own open-file limit. */
const PER_CLIENT_PROCESS = 12_000;

/** Where the scale run's Atmosphere processes relay broadcasts: `BENCH_REDIS_URL`, else a local Redis. */
const REDIS_URL = process.env['BENCH_REDIS_URL'] ?? 'redis://127.0.0.1:6379';

/**
 * Scenario 6: idle connections with heartbeats on one machine. One process holds as many as its open-file
 * limit allows (one connection is one descriptor); past that, several server processes listen on one port
 * (SO_REUSEPORT, Atmosphere's `reusePort` option) and the kernel spreads the connections over them, which is
 * how a node runs more than one process's worth; Atmosphere's processes relay broadcasts through Redis
 * (`@atmosphere/redis`) when one answers. After the hold, one broadcast (from the first Atmosphere process
 * when relayed, else from every process) and the run counts the connections it reached.
 */
export const scaleScenario: Scenario = {
  id: 'scale',
  title: '6. Scale: idle WebSocket connections on one node',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const limits = openFileLimits();
    const target = options.scaleTarget;
    const perProcessCeiling = Number.isFinite(limits.hard) ? limits.hard - RESERVED_FDS : target;
    const needed = Math.max(1, Math.ceil(target / Math.floor(perProcessCeiling * PLANNED_FILL)));
    const serverProcesses = options.scaleServerProcesses > 0 ? options.scaleServerProcesses : needed;
    const perClientProcess = Math.min(PER_CLIENT_PROCESS, Math.floor(perProcessCeiling * PLANNED_FILL));
    const notes: string[] = [];
    if (serverProcesses !== needed) {
      notes.push(
        `${serverProcesses} server processes on one port, as asked (\`--scale-procs\`; the quick run uses two, so that it goes through reusePort and the relay).`,
      );
    } else if (serverProcesses > 1) {
      notes.push(
        `One connection is one open file in the server process, and the hard limit of open files here is ` +
          `${limits.hard.toLocaleString('en-US')} per process (\`ulimit -Hn\`), so ${target.toLocaleString('en-US')} connections take ` +
          `${serverProcesses} server processes on one port (SO_REUSEPORT; Atmosphere's \`reusePort\` option). Memory and CPU are their sums.`,
      );
    }
    const redis =
      serverProcesses > 1 && (await redisAnswers(REDIS_URL))
        ? { url: REDIS_URL, channelPrefix: `bench-${process.pid}:` }
        : undefined;
    if (serverProcesses > 1) {
      notes.push(
        redis
          ? `Atmosphere's processes relay broadcasts through Redis at ${new URL(REDIS_URL).host} (\`@atmosphere/redis\`): the broadcast after the hold is made on one process and reaches the clients of all. ` +
              'Raw ws and Socket.IO have no relay here: each of their processes broadcasts to its own clients.'
          : `No Redis answered at ${new URL(REDIS_URL).host} (set BENCH_REDIS_URL): every process broadcasts to its own clients.`,
      );
    }
    const perRun = Math.max(1, Math.ceil(target / PER_ADDRESS));
    const processes = Math.max(2, Math.ceil(target / perClientProcess));
    const impls = orderImpls(options.scaleImpls);
    const runs: IdleRun[] = [];
    const used: string[] = [];
    for (const [index, impl] of impls.entries()) {
      // Fresh source addresses for each run: the previous run's ports sit in TIME_WAIT for a minute, and a
      // connection bound to an address cannot reuse them (EADDRINUSE).
      const addresses = Array.from({ length: perRun }, (_, i) => `127.0.0.${2 + index * perRun + i}`);
      used.push(...addresses);
      const run = await measureIdle(context, {
        impl,
        count: target,
        processes,
        serverProcesses,
        heartbeatMs: options.scaleHeartbeatMs,
        holdMs: options.scaleHoldMs,
        localAddresses: addresses,
        raiseFileLimit: true,
        connectTimeoutMs: Math.max(30_000, (target / 200) * 1000),
        checkReach: true,
        ...(redis ? { redis } : {}),
        label: `scale-${target}-${impl}`,
      });
      runs.push(run);
      const spread =
        run.serverProcesses > 1
          ? ` (per process ${Math.min(...run.heldPerProcess).toLocaleString('en-US')}–${Math.max(...run.heldPerProcess).toLocaleString('en-US')})`
          : '';
      notes.push(
        `${LABELS[impl]}: ${run.connected.toLocaleString('en-US')} of ${target.toLocaleString('en-US')} opened, ` +
          `${run.heldByServer.toLocaleString('en-US')} still connected after ${run.holdMs / 1000} s of heartbeats every ${options.scaleHeartbeatMs / 1000} s${spread}; ` +
          `a broadcast from ${run.reached?.from ?? 'every process'} then reached ${(run.reached?.delivered ?? 0).toLocaleString('en-US')} in ${((run.reached?.elapsedMs ?? 0) / 1000).toFixed(2)} s` +
          `${run.firstError ? `; first error: ${run.firstError}` : ''}.`,
      );
    }
    const { find, value } = byImpl(runs, impls);
    const atmo = find('atmosphere');
    const held = (run: IdleRun) => Math.min(run.heldByServer, run.reached?.delivered ?? 0);
    const where =
      serverProcesses > 1 ? `${serverProcesses} server processes on one port` : 'one server process';
    return {
      comparisons: [
        {
          title:
            `${target.toLocaleString('en-US')} idle connections to ${where}, from ${perRun} source address(es) each, ` +
            `${processes} client processes, heartbeats every ${options.scaleHeartbeatMs / 1000} s`,
          columns: impls.map((i) => LABELS[i]),
          baseline: baselineIndex(impls),
          rows: [
            { metric: 'Connections held at the end', unit: '', values: value((r) => r.heldByServer) },
            {
              metric: 'Connections reached by a broadcast after the hold',
              unit: '',
              values: value((r) => r.reached?.delivered ?? 0),
            },
            ...perConnectionRows(value),
            {
              metric: 'Server RSS (all processes)',
              unit: 'MiB',
              values: value((r) => r.loaded.rss / 2 ** 20),
              digits: 0,
            },
            {
              metric: 'Server CPU while idle (heartbeats, all processes)',
              unit: '% of a core',
              values: value((r) => r.holdCpuPercent),
              digits: 1,
            },
            { metric: 'Connections opened per second', unit: '/s', values: value((r) => r.rampPerSecond) },
          ],
        },
      ],
      goals: [
        {
          description:
            '100 000 idle connections on one 2-core node (held with heartbeats, reached by a broadcast)',
          actual: atmo ? `${held(atmo).toLocaleString('en-US')} (${where})` : '–',
          // A quick run does not try (its target is small).
          met: atmo && options.scaleTarget >= 100_000 ? held(atmo) >= 100_000 : null,
        },
      ],
      notes,
      profiles: [],
      data: {
        limits,
        target,
        serverProcesses,
        relay: redis ? `redis ${new URL(REDIS_URL).host}` : 'none',
        addresses: used,
        processes,
        runs,
      },
    };
  },
};
