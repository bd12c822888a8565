import { join } from 'node:path';
import type { ClientStats, ConnectParams, ConnectResult, Progress } from '../clients/client-main.ts';
import type { ClientImpl } from '../clients/connector.ts';
import { Child, stopAll } from '../lib/child.ts';
import { delay } from '../lib/clock.ts';
import type { CpuSample, MemorySample } from '../lib/endpoint.ts';
import { Histogram, type LatencySummary, summarize } from '../lib/histogram.ts';
import type { FanoutPlan, FanoutSent } from '../servers/driver.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';

const SERVER_ENTRY = join(import.meta.dirname, '../servers/server-main.ts');
const CLIENT_ENTRY = join(import.meta.dirname, '../clients/client-main.ts');

/** A started server process. */
export interface ServerHandle {
  child: Child;
  port: number;
  origin: string;
  /** Where its CPU profile will be written, when profiling. */
  profile: string | undefined;
}

/** Starts a server process and waits until it listens. */
export async function startServer(
  context: BenchContext,
  config: ServerConfig,
  label: string,
  options: {
    raiseFileLimit?: boolean;
    cpus?: string;
    wrapper?: readonly string[];
    nodeFlags?: readonly string[];
  } = {},
): Promise<ServerHandle> {
  const profileName = `${label}.cpuprofile`;
  const profiling = context.options.profile;
  const child = Child.start({
    name: `server:${label}`,
    entry: SERVER_ENTRY,
    args: [JSON.stringify(config)],
    nodeFlags: [
      ...(options.nodeFlags ?? []),
      ...(profiling
        ? ['--cpu-prof', `--cpu-prof-dir=${context.profileDir}`, `--cpu-prof-name=${profileName}`]
        : []),
    ],
    raiseFileLimit: options.raiseFileLimit ?? false,
    ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
    ...(options.wrapper !== undefined ? { wrapper: options.wrapper } : {}),
  });
  context.track(child);
  // A server under a wrapper (valgrind) starts tens of times slower.
  const info = await child.call<{ port: number }>(
    'info',
    {},
    options.wrapper === undefined ? 30_000 : 300_000,
  );
  return {
    child,
    port: info.port,
    origin: `http://127.0.0.1:${info.port}`,
    profile: profiling ? join(context.profileDir, profileName) : undefined,
  };
}

/** Client processes and what they opened. */
export interface ClientGroup {
  children: Child[];
  connected: number;
  failed: number;
  firstError: string | undefined;
  /** Connections opened per second during the ramp. */
  rampPerSecond: number;
}

export interface ClientGroupOptions {
  impl: ClientImpl;
  count: number;
  processes: number;
  payload?: ConnectParams['payload'];
  concurrency?: number;
  localAddresses?: string[];
  timeoutMs?: number;
  raiseFileLimit?: boolean;
  /** Pin the client processes to these CPUs (`taskset -c`), where possible. */
  cpus?: string;
  /** Atmosphere WebSocket clients: each asks for a session (`X-Atmosphere-Session-Token=0`). */
  session?: boolean;
}

/** Starts client processes and opens `count` connections spread evenly over them. */
export async function startClients(
  context: BenchContext,
  server: ServerHandle,
  options: ClientGroupOptions,
  label: string,
): Promise<ClientGroup> {
  const processes = Math.max(1, Math.min(options.processes, options.count));
  const children: Child[] = [];
  for (let i = 0; i < processes; i++) {
    const child = Child.start({
      name: `clients:${label}#${i + 1}`,
      entry: CLIENT_ENTRY,
      raiseFileLimit: options.raiseFileLimit ?? false,
      ...(options.cpus !== undefined ? { cpus: options.cpus } : {}),
    });
    context.track(child);
    children.push(child);
  }
  const started = performance.now();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const results = await Promise.all(
    children.map((child, i) => {
      const count = Math.floor(options.count / processes) + (i < options.count % processes ? 1 : 0);
      const params: ConnectParams = {
        impl: options.impl,
        origin: server.origin,
        count,
        concurrency: options.concurrency ?? 50,
        localAddresses: options.localAddresses ?? [],
        timeoutMs,
        payload: options.payload ?? 'fanout',
        ...(options.session ? { session: true } : {}),
      };
      return child.call<ConnectResult>('connect', params, timeoutMs + 10_000);
    }),
  );
  const elapsed = performance.now() - started;
  const connected = results.reduce((sum, r) => sum + r.connected, 0);
  return {
    children,
    connected,
    failed: results.reduce((sum, r) => sum + r.failed, 0),
    firstError: results.find((r) => r.firstError !== undefined)?.firstError,
    rampPerSecond: connected / (elapsed / 1000),
  };
}

/**
 * Waits (bounded) until the servers' count of connected clients (summed over the processes given)
 * satisfies `done` (default: at least `count`); returns the last count seen.
 */
export async function waitForServerConnections(
  server: ServerHandle | readonly ServerHandle[],
  count: number,
  timeoutMs: number,
  done: (seen: number) => boolean = (seen) => seen >= count,
): Promise<number> {
  const servers: readonly ServerHandle[] = Array.isArray(server) ? server : [server as ServerHandle];
  const total = async (): Promise<number> =>
    (await Promise.all(servers.map((s) => s.child.call<number>('connections')))).reduce((a, b) => a + b, 0);
  const deadline = Date.now() + timeoutMs;
  let seen = await total();
  while (!done(seen) && Date.now() < deadline) {
    await delay(50);
    seen = await total();
  }
  return seen;
}

/** CPU use between two samples: microseconds of CPU, and percent of one core over the wall time. */
export interface CpuUse {
  us: number;
  percent: number;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuUse {
  const us = b.user - a.user + (b.system - a.system);
  const wallUs = (b.wallMs - a.wallMs) * 1000;
  return { us, percent: wallUs > 0 ? (100 * us) / wallUs : 0 };
}

/** One measured fan-out phase. */
export interface PhaseResult {
  mode: FanoutPlan['mode'];
  clients: number;
  broadcasts: number;
  delivered: number;
  expected: number;
  /** All broadcasts reached every open client within the time limit. */
  complete: boolean;
  elapsedMs: number;
  messagesPerSecond: number;
  serverCpu: CpuUse;
  clientCpu: CpuUse;
  /** Server CPU microseconds per delivered message. */
  serverCpuPerMessageUs: number;
  latency: LatencySummary;
  closedUnexpectedly: number;
  foreign: number;
  /** Max rate: share of the broadcasting time the server waited for the slowest client (0..1). */
  creditWait: number;
  /** Long-polling: messages delivered per poll answered (0 for the streaming transports). */
  messagesPerResponse: number;
  /** The latency of each group of client processes named in the session's options (a cluster's nodes). */
  latencyByGroup?: Record<string, LatencySummary>;
}

/** Options of a {@link FanoutSession}. */
export interface FanoutSessionOptions {
  /** Further servers whose CPU counts with the broadcasting one's (the other nodes of a cluster). */
  cpuServers?: readonly ServerHandle[];
  /** Client processes by group name, for a latency summary per group (`PhaseResult.latencyByGroup`). */
  groups?: Record<string, readonly Child[]>;
}

export interface PhaseOptions {
  mode: FanoutPlan['mode'];
  /** Max: how long to broadcast. Paced: how long the phase lasts. */
  durationMs: number;
  /** Paced: broadcasts per second. */
  rate?: number;
  /** Max: broadcasts allowed in flight beyond the slowest client. */
  window?: number;
  /** How long to wait for the last messages to arrive after broadcasting stopped. */
  drainMs?: number;
}

/**
 * Runs one fan-out phase and measures it: server and client CPU, delivered messages and their one-way
 * latency. In `max` mode the server broadcasts while it holds credit (the slowest client's progress plus
 * the window), so the run measures sustained throughput with bounded queues.
 */
export class FanoutSession {
  readonly server: ServerHandle;
  readonly clients: ClientGroup;
  readonly #progress: Progress[];
  readonly #options: FanoutSessionOptions;
  #nextSeq = 1;
  #onProgress: (() => void) | undefined;

  constructor(server: ServerHandle, clients: ClientGroup, options: FanoutSessionOptions = {}) {
    this.server = server;
    this.clients = clients;
    this.#options = options;
    this.#progress = clients.children.map(() => ({ min: 0, delivered: 0 }));
    clients.children.forEach((child, i) => {
      child.on<Progress>('progress', (progress) => {
        this.#progress[i] = progress;
        this.#onProgress?.();
      });
    });
  }

  /** The lowest sequence number every open client has reached. */
  get min(): number {
    let min = Infinity;
    for (const p of this.#progress) if (p.min < min) min = p.min;
    return min === Infinity ? 0 : min;
  }

  async phase(options: PhaseOptions): Promise<PhaseResult> {
    const { server, clients } = this;
    const children = clients.children;
    await Promise.all(children.map((c) => c.call('reset')));
    const firstSeq = this.#nextSeq;
    const window = options.window ?? 8;
    const plan: FanoutPlan =
      options.mode === 'max'
        ? { firstSeq, count: 1e9, mode: 'max', intervalMs: 0, timeoutMs: options.durationMs }
        : {
            firstSeq,
            count: Math.max(1, Math.round(((options.rate ?? 10) * options.durationMs) / 1000)),
            mode: 'paced',
            intervalMs: 1000 / (options.rate ?? 10),
            timeoutMs: options.durationMs * 2,
          };
    if (options.mode === 'max') {
      this.#onProgress = () => server.child.send('credit', this.min + window);
      server.child.send('credit', firstSeq - 1 + window);
    }
    const servers = [server, ...(this.#options.cpuServers ?? [])];
    const sampleServers = (): Promise<CpuSample[]> =>
      Promise.all(servers.map((s) => s.child.call<CpuSample>('cpu')));
    const [serverCpu0, clientCpu0] = await Promise.all([
      sampleServers(),
      Promise.all(children.map((c) => c.call<CpuSample>('cpu'))),
    ]);
    const started = performance.now();
    const sent = await server.child.call<FanoutSent>('fanout', plan, plan.timeoutMs + 30_000);
    const last = firstSeq + sent.sent - 1;
    this.#nextSeq = last + 1;
    let finished = performance.now();
    const complete = await new Promise<boolean>((resolve) => {
      const check = (): void => {
        if (this.min >= last) {
          finished = performance.now();
          this.#onProgress = undefined;
          clearTimeout(timer);
          resolve(true);
        }
      };
      const timer = setTimeout(() => {
        this.#onProgress = undefined;
        finished = performance.now();
        resolve(false);
      }, options.drainMs ?? 15_000);
      this.#onProgress = () => {
        if (options.mode === 'max') server.child.send('credit', this.min + window);
        check();
      };
      check();
    });
    const [serverCpu1, clientCpu1] = await Promise.all([
      sampleServers(),
      Promise.all(children.map((c) => c.call<CpuSample>('cpu'))),
    ]);
    const stats = await Promise.all(children.map((c) => c.call<ClientStats>('stats')));
    const histogram = new Histogram();
    for (const s of stats) histogram.merge(s.histogram);
    let latencyByGroup: Record<string, LatencySummary> | undefined;
    for (const [name, members] of Object.entries(this.#options.groups ?? {})) {
      const group = new Histogram();
      children.forEach((child, i) => {
        if (members.includes(child)) group.merge(stats[i]!.histogram);
      });
      (latencyByGroup ??= {})[name] = summarize(group);
    }
    const delivered = stats.reduce((sum, s) => sum + s.delivered, 0);
    const responses = stats.reduce((sum, s) => sum + s.responses, 0);
    const elapsedMs = finished - started;
    const serverCpu = servers
      .map((_, i) => cpuBetween(serverCpu0[i]!, serverCpu1[i]!))
      .reduce((sum, use) => ({ us: sum.us + use.us, percent: sum.percent + use.percent }));
    const clientUs = clientCpu1.reduce((sum, sample, i) => sum + cpuBetween(clientCpu0[i]!, sample).us, 0);
    const open = clients.connected - stats.reduce((sum, s) => sum + s.closedUnexpectedly, 0);
    return {
      mode: options.mode,
      clients: open,
      broadcasts: sent.sent,
      delivered,
      expected: sent.sent * open,
      complete,
      elapsedMs,
      messagesPerSecond: delivered / (elapsedMs / 1000),
      serverCpu,
      clientCpu: { us: clientUs, percent: (100 * clientUs) / (elapsedMs * 1000) },
      serverCpuPerMessageUs: delivered > 0 ? serverCpu.us / delivered : Number.NaN,
      latency: summarize(histogram),
      closedUnexpectedly: stats.reduce((sum, s) => sum + s.closedUnexpectedly, 0),
      foreign: stats.reduce((sum, s) => sum + s.foreign, 0),
      creditWait: sent.elapsedMs > 0 ? sent.creditWaitMs / sent.elapsedMs : 0,
      messagesPerResponse: responses > 0 ? delivered / responses : 0,
      ...(latencyByGroup !== undefined ? { latencyByGroup } : {}),
    };
  }
}

/** Server memory after `gc()`. */
export function serverMemory(server: ServerHandle): Promise<MemorySample> {
  return server.child.call<MemorySample>('memory', { gc: true }, 60_000);
}

/** Stops a run's servers and clients (clients first, so the servers see ordinary disconnects). */
export async function stopRun(
  server: ServerHandle | readonly ServerHandle[] | undefined,
  clients: ClientGroup | undefined,
): Promise<void> {
  await stopAll(clients?.children ?? []);
  const servers: readonly ServerHandle[] =
    server === undefined ? [] : Array.isArray(server) ? server : [server as ServerHandle];
  await stopAll(servers.map((s) => s.child));
}
