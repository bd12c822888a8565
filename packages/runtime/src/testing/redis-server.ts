import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A redis-server of the test's own, on a free port of 127.0.0.1, that the test can stop and restart. */
export interface TestRedis {
  readonly port: number;
  readonly url: string;
  /** Stops the server (SIGTERM) and resolves once the process has exited. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL (a crash: no shutdown, connections cut) and resolves once it has exited. */
  kill(): Promise<void>;
  /** Starts it again on the same port; resolves once it answers PING. */
  start(): Promise<void>;
}

const REDIS_SERVER = process.env['REDIS_SERVER'] ?? 'redis-server';

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** One PING over a raw socket: true when the answer is +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' });
    let answer = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
    socket.on('error', () => done(false));
  });
}

/** Options of {@link startTestRedis}. */
export interface TestRedisOptions {
  /** How long to wait for the first PING answer (default 10 000 ms). */
  readonly timeoutMs?: number;
  /**
   * `true`: keep the data across a kill and a restart, an append-only file fsynced on every write
   * (`--appendonly yes --appendfsync always`) in a directory of its own under the system's temporary
   * directory. `'snapshot'`: RDB only, written when the test sends `SAVE` (no automatic save): a restarted
   * server comes back with the data of the last `SAVE`, without what was written after it — what a crash does
   * to Redis's default persistence (snapshots, or `appendfsync everysec`). Default: no persistence (a restarted
   * server is empty).
   */
  readonly persistence?: boolean | 'snapshot';
  /**
   * Starts the server in cluster mode (`--cluster-enabled yes`, a cluster of its own with no slot assigned): for
   * tests of what refuses a Redis Cluster. Default false.
   */
  readonly cluster?: boolean;
}

/**
 * Spawns `redis-server --port N --bind 127.0.0.1 --save '' --appendonly no` (with `persistence`, an append-only
 * file fsynced on every write, or snapshots the test makes) and waits until it answers PING (each failed PING is followed by a short pause
 * before the next; the wait gives up after `timeoutMs`). A number is taken as `timeoutMs`.
 */
export async function startTestRedis(options: TestRedisOptions | number = {}): Promise<TestRedis> {
  const {
    timeoutMs = 10_000,
    persistence = false,
    cluster = false,
  } = typeof options === 'number' ? { timeoutMs: options } : options;
  let port = await freePort();
  const clustering = cluster
    ? [
        '--cluster-enabled',
        'yes',
        '--cluster-config-file',
        join(mkdtempSync(join(tmpdir(), 'atmosphere-redis-cluster-')), 'nodes.conf'),
      ]
    : [];
  const storage =
    persistence === 'snapshot'
      ? ['--appendonly', 'no', '--dir', mkdtempSync(join(tmpdir(), 'atmosphere-redis-'))]
      : persistence
        ? [
            '--appendonly',
            'yes',
            '--appendfsync',
            'always',
            '--dir',
            mkdtempSync(join(tmpdir(), 'atmosphere-redis-')),
          ]
        : ['--appendonly', 'no'];
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    output = '';
    const spawned = spawn(
      REDIS_SERVER,
      ['--port', String(port), '--bind', '127.0.0.1', '--save', '', ...storage, ...clustering],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = spawned;
    spawned.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    spawned.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    let exited = false;
    spawned.once('exit', () => (exited = true));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exited) throw new Error(`redis-server exited on port ${port}:\n${output}`);
      // The PING must be answered by this server: another process may have taken the port since it was free.
      if ((await ping(port)) && !exited && output.includes('Ready to accept connections')) return;
      if (Date.now() > deadline)
        throw new Error(
          `redis-server did not answer PING on port ${port} within ${timeoutMs} ms:\n${output}`,
        );
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const end = async (signal: NodeJS.Signals): Promise<void> => {
    const running = child;
    child = undefined;
    if (!running || running.exitCode !== null || running.signalCode !== null) return;
    const exited = once(running, 'exit');
    running.kill(signal);
    await exited;
  };

  // The free port may be taken before the server binds it (another test starting its own): then another one.
  for (let attempt = 1; ; attempt++) {
    try {
      await start();
      break;
    } catch (error) {
      if (attempt >= 5 || !output.includes('Address already in use')) throw error;
      port = await freePort();
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    start,
  };
}
