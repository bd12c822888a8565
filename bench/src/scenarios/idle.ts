import type { Impl } from '../options.ts';
import type { CpuSample, MemorySample } from '../lib/endpoint.ts';
import type { BenchContext } from './context.ts';
import type { ClientStats } from '../clients/client-main.ts';
import type { Comparison } from '../lib/report.ts';
import {
  type ClientGroup,
  cpuBetween,
  type ServerHandle,
  serverMemory,
  startClients,
  startServer,
  stopRun,
  waitForServerConnections,
} from './harness.ts';
import { WS_CLIENTS, wsServer } from './scenario.ts';
import { delay } from '../lib/clock.ts';
import { diffHeapSnapshots, type HeapDiff } from '../lib/heap-snapshot.ts';
import { join } from 'node:path';
import type { ServerConfig } from '../servers/target.ts';

/** Idle connections held by one server (or several processes on one port): memory before and after. */
export interface IdleRun {
  impl: Impl;
  target: number;
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** Connections the server processes still counted at the end of the hold (their sum). */
  heldByServer: number;
  /** Server processes sharing the port, and how many connections each held. */
  serverProcesses: number;
  heldPerProcess: number[];
  rampPerSecond: number;
  /** Summed over the server processes. */
  baseline: MemorySample;
  loaded: MemorySample;
  rssPerConnection: number;
  heapPerConnection: number;
  /** Server CPU while holding the idle connections (heartbeats), percent of a core, all processes. */
  holdCpuPercent: number;
  holdMs: number;
  /** With `checkReach`: connections that received one broadcast after the hold, and how long it took. */
  reached?: { delivered: number; elapsedMs: number; from: 'one process' | 'every process' };
  /** With `heapSnapshots`: what the heap gained per connection, by kind of object. */
  heap?: HeapDiff;
}

export interface IdleOptions {
  impl: Impl;
  count: number;
  processes: number;
  /** Server processes listening on one port with SO_REUSEPORT (default 1: one process on its own port). */
  serverProcesses?: number;
  heartbeatMs: number;
  holdMs: number;
  localAddresses?: string[];
  raiseFileLimit?: boolean;
  connectTimeoutMs: number;
  label: string;
  /**
   * After measuring, broadcast one message and count the clients it reached: from the first server process
   * when they relay through Redis (`redis`), else from every process.
   */
  checkReach?: boolean;
  /** Atmosphere with several server processes: relay broadcasts between them through Redis. */
  redis?: { url: string; channelPrefix: string };
  /** Take heap snapshots before and after (slow; for finding what a connection costs; one server only). */
  heapSnapshots?: boolean;
  /** Settings added to the server's configuration (a session store, …). */
  server?: Partial<ServerConfig>;
  /** Atmosphere: each client asks for a session, as `@atmosphere/client` does. */
  session?: boolean;
  /** Called once the servers listen and their baseline is taken, before the first client connects. */
  onBaseline?: () => void | Promise<void>;
  /**
   * Clients connected (one server process only) before the baseline is taken and held to the end, so that
   * what the first connections cost once — compiled code, pools, lazily made state — is in the baseline and
   * the figures per connection are what each further connection adds.
   */
  warmConnections?: number;
}

/** The memory per connection rows of an idle run's table (memory and scale scenarios). */
export function perConnectionRows(
  value: (pick: (run: IdleRun) => number) => (number | null)[],
): Comparison['rows'] {
  return [
    { metric: 'RSS per connection', unit: 'KiB', values: value((r) => r.rssPerConnection / 1024), digits: 1 },
    {
      metric: 'JS heap per connection',
      unit: 'KiB',
      values: value((r) => r.heapPerConnection / 1024),
      digits: 1,
    },
  ];
}

function sumMemory(samples: MemorySample[]): MemorySample {
  const total = (pick: (m: MemorySample) => number) => samples.reduce((sum, m) => sum + pick(m), 0);
  return {
    rss: total((m) => m.rss),
    heapUsed: total((m) => m.heapUsed),
    heapTotal: total((m) => m.heapTotal),
    external: total((m) => m.external),
    arrayBuffers: total((m) => m.arrayBuffers),
    gc: samples.every((m) => m.gc),
  };
}

async function holdCpuPercent(servers: ServerHandle[], holdMs: number): Promise<number> {
  const sample = () => Promise.all(servers.map((s) => s.child.call<CpuSample>('cpu')));
  const before = await sample();
  await delay(holdMs);
  const after = await sample();
  return after.reduce((sum, sample1, i) => sum + cpuBetween(before[i]!, sample1).percent, 0);
}

/**
 * One broadcast from each of `from` (one process when they relay between them, else all); waits (bounded)
 * until the clients have received it.
 */
async function checkReach(
  from: ServerHandle[],
  group: ClientGroup,
  expected: number,
): Promise<{ delivered: number; elapsedMs: number }> {
  const delivered = async () =>
    (await Promise.all(group.children.map((c) => c.call<ClientStats>('stats')))).reduce(
      (sum, s) => sum + s.delivered,
      0,
    );
  await Promise.all(group.children.map((c) => c.call('reset')));
  const started = performance.now();
  await Promise.all(from.map((s) => s.child.call('broadcast', { count: 1, firstSeq: 1 }, 60_000)));
  const deadline = started + 30_000;
  let seen = await delivered();
  while (seen < expected && performance.now() < deadline) {
    await delay(100);
    seen = await delivered();
  }
  return { delivered: seen, elapsedMs: performance.now() - started };
}

/**
 * Connects `count` idle WebSocket clients, holds them for `holdMs` (heartbeats running), and measures the
 * servers' RSS and heap after `gc()` against their own baseline before the first connection. With several
 * server processes, they listen on one port (SO_REUSEPORT) and the kernel spreads the connections; the
 * figures are their sums.
 */
export async function measureIdle(context: BenchContext, options: IdleOptions): Promise<IdleRun> {
  const servers: ServerHandle[] = [];
  let group: ClientGroup | undefined;
  let warm: ClientGroup | undefined;
  const processCount = Math.max(1, options.serverProcesses ?? 1);
  try {
    const relayed = options.redis !== undefined && options.impl === 'atmosphere' && processCount > 1;
    const config: ServerConfig = {
      ...wsServer(options.impl, options.heartbeatMs),
      ...(relayed ? { redis: options.redis } : {}),
      ...options.server,
    };
    const raiseFileLimit = options.raiseFileLimit ?? false;
    for (let i = 0; i < processCount; i++) {
      const shared = processCount > 1 ? { sharedPort: servers[0]?.port ?? 0 } : {};
      const label = processCount > 1 ? `${options.label}-p${i + 1}` : options.label;
      servers.push(await startServer(context, { ...config, ...shared }, label, { raiseFileLimit }));
    }
    const [first] = servers as [ServerHandle];
    const warmCount = processCount === 1 ? (options.warmConnections ?? 0) : 0;
    if (warmCount > 0) {
      warm = await startClients(
        context,
        first,
        {
          impl: WS_CLIENTS[options.impl],
          count: warmCount,
          processes: 1,
          timeoutMs: options.connectTimeoutMs,
          ...(options.session ? { session: true } : {}),
        },
        `${options.label}-warm`,
      );
      await waitForServerConnections(servers, warm.connected, 10_000);
    }
    const warmHeld = warm?.connected ?? 0;
    const baseline = sumMemory(await Promise.all(servers.map(serverMemory)));
    const snapshotBefore =
      options.heapSnapshots && processCount === 1
        ? join(context.profileDir, `${options.label}-before.heapsnapshot`)
        : undefined;
    if (snapshotBefore) await first.child.call('heapSnapshot', { file: snapshotBefore }, 120_000);
    await options.onBaseline?.();
    context.log(
      `${options.label}: opening ${options.count} idle connections over ${options.processes} client processes` +
        (processCount > 1 ? ` to ${processCount} server processes on port ${first.port}` : ''),
    );
    group = await startClients(
      context,
      first,
      {
        impl: WS_CLIENTS[options.impl],
        count: options.count,
        processes: options.processes,
        concurrency: 100,
        localAddresses: options.localAddresses ?? [],
        timeoutMs: options.connectTimeoutMs,
        raiseFileLimit,
        ...(options.session ? { session: true } : {}),
      },
      options.label,
    );
    await waitForServerConnections(servers, warmHeld + group.connected, 10_000);
    context.log(
      `${options.label}: ${group.connected} connected (${group.rampPerSecond.toFixed(0)}/s); holding ${options.holdMs} ms`,
    );
    const cpuPercent = await holdCpuPercent(servers, options.holdMs);
    const heldPerProcess = await Promise.all(servers.map((s) => s.child.call<number>('connections')));
    const heldByServer = heldPerProcess.reduce((sum, n) => sum + n, 0) - warmHeld;
    const loaded = sumMemory(await Promise.all(servers.map(serverMemory)));
    // Per connection still held at the measurement (a connection dropped during the hold holds nothing).
    const connected = Math.max(1, heldByServer);
    let heap: HeapDiff | undefined;
    if (snapshotBefore) {
      const snapshotAfter = join(context.profileDir, `${options.label}-after.heapsnapshot`);
      await first.child.call('heapSnapshot', { file: snapshotAfter }, 120_000);
      heap = await diffHeapSnapshots(snapshotBefore, snapshotAfter, connected);
    }
    const reached = options.checkReach
      ? {
          ...(await checkReach(relayed ? [first] : servers, group, heldByServer)),
          from: relayed ? ('one process' as const) : ('every process' as const),
        }
      : undefined;
    return {
      impl: options.impl,
      target: options.count,
      connected: group.connected,
      failed: group.failed,
      firstError: group.firstError,
      heldByServer,
      serverProcesses: processCount,
      heldPerProcess,
      rampPerSecond: group.rampPerSecond,
      baseline,
      loaded,
      rssPerConnection: (loaded.rss - baseline.rss) / connected,
      heapPerConnection: (loaded.heapUsed - baseline.heapUsed) / connected,
      holdCpuPercent: cpuPercent,
      holdMs: options.holdMs,
      ...(reached ? { reached } : {}),
      ...(heap ? { heap } : {}),
    };
  } finally {
    if (warm !== undefined) await stopRun(undefined, warm);
    await stopRun(servers, group);
  }
}
