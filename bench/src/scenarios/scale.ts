import type { Impl } from '../options.ts';
import { openFileLimits } from '../lib/system.ts';
import type { BenchContext } from './context.ts';
import { type IdleRun, measureIdle } from './idle.ts';
import { baselineIndex, LABELS, orderImpls, type Scenario, type ScenarioReport } from './scenario.ts';

/** File descriptors a server process keeps for itself (stdio, IPC, epoll, the listening socket, …). */
const RESERVED_FDS = 256;
/** Connections per source address: under the ~28 000 ephemeral ports of one address. */
const PER_ADDRESS = 25_000;
/** Connections per client process, so that each stays well under its own open-file limit. */
const PER_CLIENT_PROCESS = 8_000;

/** Scenario 6: as many idle connections as one server process holds, heartbeats on. */
export const scaleScenario: Scenario = {
  id: 'scale',
  title: '6. Scale: idle WebSocket connections on one server process',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const limits = openFileLimits();
    const ceiling = Number.isFinite(limits.hard) ? limits.hard - RESERVED_FDS : options.scaleTarget;
    const target = Math.min(options.scaleTarget, ceiling);
    const notes: string[] = [];
    if (target < options.scaleTarget) {
      notes.push(
        `Target ${options.scaleTarget.toLocaleString('en-US')} capped at ${target.toLocaleString('en-US')}: the hard limit of open files here is ` +
          `${limits.hard} (\`ulimit -Hn\`) and one connection is one descriptor in the server process. Raising it needs the hard limit ` +
          'raised for the machine or container (`nofile` in /etc/security/limits.conf, `--ulimit nofile=…` for Docker, LimitNOFILE for systemd).',
      );
    }
    const perRun = Math.max(1, Math.ceil(target / PER_ADDRESS));
    const processes = Math.max(2, Math.ceil(target / PER_CLIENT_PROCESS));
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
        heartbeatMs: options.scaleHeartbeatMs,
        holdMs: options.scaleHoldMs,
        localAddresses: addresses,
        raiseFileLimit: true,
        connectTimeoutMs: Math.max(30_000, (target / 200) * 1000),
        label: `scale-${target}-${impl}`,
      });
      runs.push(run);
      notes.push(
        `${LABELS[impl]}: ${run.connected.toLocaleString('en-US')} of ${target.toLocaleString('en-US')} opened, ` +
          `${run.heldByServer.toLocaleString('en-US')} still connected after ${run.holdMs / 1000} s of heartbeats every ${options.scaleHeartbeatMs / 1000} s` +
          `${run.firstError ? `; first error: ${run.firstError}` : ''}.`,
      );
    }
    const find = (impl: Impl) => runs.find((r) => r.impl === impl);
    const value = (pick: (r: IdleRun) => number) => impls.map((i) => (find(i) ? pick(find(i)!) : null));
    const atmo = find('atmosphere');
    return {
      comparisons: [
        {
          title: `${target.toLocaleString('en-US')} idle connections from ${perRun} source address(es) each, ${processes} client processes, heartbeats every ${options.scaleHeartbeatMs / 1000} s`,
          columns: impls.map((i) => LABELS[i]),
          baseline: baselineIndex(impls),
          rows: [
            { metric: 'Connections held at the end', unit: '', values: value((r) => r.heldByServer) },
            {
              metric: 'RSS per connection',
              unit: 'KiB',
              values: value((r) => r.rssPerConnection / 1024),
              digits: 1,
            },
            {
              metric: 'JS heap per connection',
              unit: 'KiB',
              values: value((r) => r.heapPerConnection / 1024),
              digits: 1,
            },
            { metric: 'Server RSS', unit: 'MiB', values: value((r) => r.loaded.rss / 2 ** 20), digits: 0 },
            {
              metric: 'Server CPU while idle (heartbeats)',
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
          description: '100 000 idle connections on one server process (2 cores)',
          actual: atmo
            ? `${atmo.heldByServer.toLocaleString('en-US')}${target < options.scaleTarget ? ` (capped by ulimit -Hn ${limits.hard})` : ''}`
            : '–',
          // A quick run does not try (its target is small); a capped run tried and could not.
          met: atmo && options.scaleTarget >= 100_000 ? atmo.heldByServer >= 100_000 : null,
        },
      ],
      notes,
      profiles: [],
      data: { limits, target, addresses: used, processes, runs },
    };
  },
};
