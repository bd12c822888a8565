import type { Impl } from '../options.ts';
import type { MemorySample } from '../lib/endpoint.ts';
import type { BenchContext } from './context.ts';
import {
  type ClientGroup,
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

/** Idle connections held by one server: memory before and after, per connection. */
export interface IdleRun {
  impl: Impl;
  target: number;
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** Connections the server still counted at the end of the hold. */
  heldByServer: number;
  rampPerSecond: number;
  baseline: MemorySample;
  loaded: MemorySample;
  rssPerConnection: number;
  heapPerConnection: number;
  /** Server CPU while holding the idle connections (heartbeats), percent of a core. */
  holdCpuPercent: number;
  holdMs: number;
  /** With `heapSnapshots`: what the heap gained per connection, by kind of object. */
  heap?: HeapDiff;
}

export interface IdleOptions {
  impl: Impl;
  count: number;
  processes: number;
  heartbeatMs: number;
  holdMs: number;
  localAddresses?: string[];
  raiseFileLimit?: boolean;
  connectTimeoutMs: number;
  label: string;
  /** Take heap snapshots before and after (slow; for finding what a connection costs). */
  heapSnapshots?: boolean;
}

/**
 * Connects `count` idle WebSocket clients, holds them for `holdMs` (heartbeats running), and measures the
 * server's RSS and heap after `gc()` against its own baseline before the first connection.
 */
export async function measureIdle(context: BenchContext, options: IdleOptions): Promise<IdleRun> {
  let server: ServerHandle | undefined;
  let group: ClientGroup | undefined;
  try {
    server = await startServer(context, wsServer(options.impl, options.heartbeatMs), options.label, {
      raiseFileLimit: options.raiseFileLimit ?? false,
    });
    const baseline = await serverMemory(server);
    const snapshotBefore = options.heapSnapshots
      ? join(context.profileDir, `${options.label}-before.heapsnapshot`)
      : undefined;
    if (snapshotBefore) await server.child.call('heapSnapshot', { file: snapshotBefore }, 120_000);
    context.log(
      `${options.label}: opening ${options.count} idle connections over ${options.processes} processes`,
    );
    group = await startClients(
      context,
      server,
      {
        impl: WS_CLIENTS[options.impl],
        count: options.count,
        processes: options.processes,
        concurrency: 100,
        localAddresses: options.localAddresses ?? [],
        timeoutMs: options.connectTimeoutMs,
        raiseFileLimit: options.raiseFileLimit ?? false,
      },
      options.label,
    );
    await waitForServerConnections(server, group.connected, 10_000);
    context.log(
      `${options.label}: ${group.connected} connected (${group.rampPerSecond.toFixed(0)}/s); holding ${options.holdMs} ms`,
    );
    const cpu0 = await server.child.call<{ user: number; system: number; wallMs: number }>('cpu');
    await delay(options.holdMs);
    const cpu1 = await server.child.call<{ user: number; system: number; wallMs: number }>('cpu');
    const heldByServer = await server.child.call<number>('connections');
    const loaded = await serverMemory(server);
    const connected = Math.max(1, group.connected);
    let heap: HeapDiff | undefined;
    if (snapshotBefore) {
      const snapshotAfter = join(context.profileDir, `${options.label}-after.heapsnapshot`);
      await server.child.call('heapSnapshot', { file: snapshotAfter }, 120_000);
      heap = await diffHeapSnapshots(snapshotBefore, snapshotAfter, connected);
    }
    return {
      impl: options.impl,
      target: options.count,
      connected: group.connected,
      failed: group.failed,
      firstError: group.firstError,
      heldByServer,
      rampPerSecond: group.rampPerSecond,
      baseline,
      loaded,
      rssPerConnection: (loaded.rss - baseline.rss) / connected,
      heapPerConnection: (loaded.heapUsed - baseline.heapUsed) / connected,
      holdCpuPercent:
        (100 * (cpu1.user - cpu0.user + cpu1.system - cpu0.system)) / ((cpu1.wallMs - cpu0.wallMs) * 1000),
      holdMs: options.holdMs,
      ...(heap ? { heap } : {}),
    };
  } finally {
    await stopRun(server, group);
  }
}
