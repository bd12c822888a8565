/**
 * The chaos kit: what an application's own tests use to break a cluster on purpose and check that nothing was
 * lost silently. A TCP fault proxy (put it between a node and Redis, or a client and a node, and cut, stall or
 * partition), a process supervisor (start a node as a child process, kill it with SIGKILL, restart it) and
 * delivery assertions ("no frame lost, none twice, every gap signalled"). docs/chaos.md shows how.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createConnection, createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/** A TCP proxy on 127.0.0.1 that forwards to a target and breaks the traffic on demand. */
export interface FaultProxy {
  /** The proxy's port: point the client (a node's Redis URL, a browser's URL) here. */
  readonly port: number;
  /** Connection pairs open through the proxy now. */
  readonly connections: number;
  /**
   * Destroys every open connection pair at once (both sides see a reset), as a crashed peer or a dropped
   * network path would. New connections are accepted as before.
   */
  cut(): void;
  /** Cuts every connection and refuses new ones (accepted, then destroyed) until {@link heal}. */
  partition(): void;
  /** Ends a partition: new connections are forwarded again. */
  heal(): void;
  /**
   * Holds the bytes of every connection, both ways, without closing anything (a hung peer, a congested path),
   * until {@link resume}; then they flow in order.
   */
  stall(): void;
  /** Ends a stall: what was held is forwarded, in order. */
  resume(): void;
  /** Cuts everything and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  readonly client: Socket;
  readonly upstream: Socket;
}

/** Starts a {@link FaultProxy} on a free port of 127.0.0.1 forwarding to `target` (a port of 127.0.0.1, or host and port). */
export async function startFaultProxy(target: number | { host: string; port: number }): Promise<FaultProxy> {
  const { host, port } = typeof target === 'number' ? { host: '127.0.0.1', port: target } : target;
  const pairs = new Set<Pair>();
  let partitioned = false;
  let stalled = false;
  const server: Server = createServer((client) => {
    if (partitioned) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host, port });
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
    if (stalled) {
      client.pause();
      upstream.pause();
    }
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const cut = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    }
    pairs.clear();
  };
  return {
    port: (server.address() as AddressInfo).port,
    get connections() {
      return pairs.size;
    },
    cut,
    partition() {
      partitioned = true;
      cut();
    },
    heal() {
      partitioned = false;
    },
    stall() {
      stalled = true;
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
    },
    resume() {
      stalled = false;
      for (const { client, upstream } of pairs) {
        client.resume();
        upstream.resume();
      }
    },
    async close() {
      partitioned = true;
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A listener in a dead server's place that counts the connection attempts made to it. */
export interface AttemptCounter {
  /** When each connection attempt arrived (`Date.now()`), in order. */
  readonly attempts: readonly number[];
  close(): Promise<void>;
}

/**
 * Listens on `port` of 127.0.0.1 (where a server was until the test killed it) and cuts every connection at
 * once, recording when it came: how often a client tries to reconnect while its server is away.
 */
export async function countConnectionAttempts(port: number): Promise<AttemptCounter> {
  const attempts: number[] = [];
  const server = createServer((socket) => {
    attempts.push(Date.now());
    socket.destroy();
  });
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return {
    attempts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** How a supervised process is started. */
export interface ProcessSpec {
  /** The program; default the current Node (`process.execPath`). */
  readonly command?: string;
  readonly args: readonly string[];
  /** Added to the current environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** A line of its standard output that means "ready"; its first capture group is kept as `ready`. */
  readonly ready: RegExp;
  /** How long to wait for the ready line. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

/** A child process (a node of the cluster) that a test starts, kills and restarts. */
export interface SupervisedProcess {
  /** The current process id (undefined while it is not running). */
  readonly pid: number | undefined;
  /** The first capture group of the ready line of the current run (a URL, a port). */
  readonly ready: string | undefined;
  /** Everything it wrote to stdout and stderr, all runs. */
  readonly output: string;
  /** Starts it (again) and resolves with the ready capture once the ready line appears. */
  start(): Promise<string | undefined>;
  /** SIGKILL: no shutdown hook runs, connections are cut by the kernel. Resolves once it exited. */
  kill(): Promise<void>;
  /** SIGTERM, then resolves once it exited (a graceful stop, if the program handles it). */
  stop(): Promise<void>;
  /** kill(), then start(). */
  restart(): Promise<string | undefined>;
}

/** A {@link SupervisedProcess} for `spec` (not started yet: call `start()`). */
export function superviseProcess(spec: ProcessSpec): SupervisedProcess {
  let child: ChildProcess | undefined;
  let output = '';
  let ready: string | undefined;
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    ready = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    await exited;
  };
  const start = async (): Promise<string | undefined> => {
    if (child !== undefined) throw new Error('superviseProcess: already running; kill() or stop() first');
    const spawned = spawn(spec.command ?? process.execPath, spec.args, {
      env: { ...process.env, ...spec.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = spawned;
    const timeoutMs = spec.timeoutMs ?? 20_000;
    return new Promise<string | undefined>((resolve, reject) => {
      let line = '';
      const timer = setTimeout(() => {
        void end('SIGKILL');
        reject(new Error(`superviseProcess: no ready line within ${timeoutMs} ms:\n${output}`));
      }, timeoutMs);
      const settle = (): void => clearTimeout(timer);
      spawned.stdout.on('data', (chunk: Buffer) => {
        const text = chunk.toString();
        output += text;
        if (ready !== undefined || child !== spawned) return;
        line += text;
        const match = spec.ready.exec(line);
        if (match) {
          ready = match[1] ?? match[0];
          settle();
          resolve(ready);
        }
      });
      spawned.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      spawned.once('exit', (code, signal) => {
        if (child === spawned) child = undefined;
        if (ready === undefined) {
          settle();
          reject(new Error(`superviseProcess: exited (${signal ?? code}) before its ready line:\n${output}`));
        }
      });
    });
  };
  return {
    get pid() {
      return child?.pid;
    },
    get ready() {
      return ready;
    },
    get output() {
      return output;
    },
    start,
    kill: () => end('SIGKILL'),
    stop: () => end('SIGTERM'),
    async restart() {
      await end('SIGKILL');
      return start();
    },
  };
}

/** What a receiver saw of a numbered sequence of frames 1..sent. */
export interface DeliveryRecord {
  /** How many frames were sent, numbered 1..sent. */
  readonly sent: number;
  /** The numbers received, in arrival order. */
  readonly received: readonly number[];
  /** Numbers the receiver was told it missed (a `reset`, a relay failure report, a gap signal). */
  readonly signalled?: Iterable<number>;
}

/** The verdict of {@link checkDelivery}. */
export interface DeliveryReport {
  /** Neither received nor signalled. */
  readonly lost: number[];
  /** Received more than once. */
  readonly duplicated: number[];
  /** Received after a higher number. */
  readonly reordered: number[];
}

/** Compares what was received (and signalled) with 1..sent. */
export function checkDelivery(record: DeliveryRecord): DeliveryReport {
  const seen = new Map<number, number>();
  const reordered: number[] = [];
  let highest = 0;
  for (const n of record.received) {
    seen.set(n, (seen.get(n) ?? 0) + 1);
    if (n < highest) reordered.push(n);
    else highest = n;
  }
  const signalled = new Set(record.signalled ?? []);
  const lost: number[] = [];
  for (let n = 1; n <= record.sent; n++) if (!seen.has(n) && !signalled.has(n)) lost.push(n);
  const duplicated = [...seen].filter(([, count]) => count > 1).map(([n]) => n);
  return { lost, duplicated, reordered };
}

function sample(numbers: readonly number[]): string {
  return numbers.length <= 10 ? numbers.join(', ') : `${numbers.slice(0, 10).join(', ')}, …`;
}

/**
 * Throws unless every frame 1..sent was received exactly once, in order, or signalled as missed: "no frame
 * lost, none twice, every gap signalled". The message lists the first offenders of each kind.
 */
export function assertDelivery(record: DeliveryRecord, label = 'delivery'): void {
  const { lost, duplicated, reordered } = checkDelivery(record);
  const problems: string[] = [];
  if (lost.length > 0) problems.push(`${lost.length} lost silently (${sample(lost)})`);
  if (duplicated.length > 0) problems.push(`${duplicated.length} received twice (${sample(duplicated)})`);
  if (reordered.length > 0) problems.push(`${reordered.length} out of order (${sample(reordered)})`);
  if (problems.length > 0) throw new Error(`${label}: of ${record.sent} frames, ${problems.join('; ')}`);
}
