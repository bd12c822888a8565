import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { BenchContext } from './context.ts';
import { goal, LABELS, type Scenario, type ScenarioReport } from './scenario.ts';

/** The malformed frames the flooding sockets send in turn, each right after its upgrade. */
const MALFORMED: readonly Buffer[] = [
  // Bad UTF-8 in a text frame (1007).
  masked(0x81, Buffer.from([0x68, 0xff, 0xfe])),
  // An unmasked frame (1002).
  Buffer.from([0x81, 0x02, 0x68, 0x69]),
  // An invalid opcode (1002).
  masked(0x83, Buffer.from('xx')),
  // A 64-bit length far over the 1 MiB limit (1009).
  Buffer.from([0x82, 0xff, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4]),
];

function masked(first: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  return Buffer.concat([
    Buffer.from([first, 0x80 | payload.length]),
    mask,
    Buffer.from(payload.map((b, i) => b ^ mask[i % 4]!)),
  ]);
}

/** How long a fixed-count flood may take at most. */
const COUNTED_DEADLINE_MS = 600_000;

interface Stats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  resources: { connected: number; away: number };
  warnings: number;
  /** V8's reserved heap by space, in MiB. */
  spaces: Record<string, number>;
}

/** Extra Node flags of the flood servers (`FLOOD_NODE_FLAGS="--max-semi-space-size=8"`), to try V8 settings. */
const FLOOD_NODE_FLAGS = (process.env.FLOOD_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/** One flood against one server. */
interface FloodRun {
  impl: 'atmosphere' | 'ws';
  attempts: number;
  refused: number;
  elapsedMs: number;
  baseline: Stats;
  after: Stats;
  settled: Stats;
  peakRss: number;
  peakHeapTotal: number;
  peakResources: number;
  rtts: number[];
}

/**
 * Scenario 7: a flood of malformed WebSocket frames. `floodSockets` sockets each open a WebSocket on a new
 * tracking id, send a malformed frame and open the next as soon as the server drops it, for `floodDurationMs`
 * (and at most `floodMaxAttempts` in all) or, with `floodConnections`, for that many connections; meanwhile a
 * legitimate client's echo round trips are timed, and the server's RSS is sampled. Each violation must end
 * its resource at once, so neither RSS nor the legitimate client's latency may grow with the flood. The raw
 * `ws` peer (a bare echo server) takes the same flood after it, when it is among the implementations: what
 * Node and ws themselves cost per malformed connection.
 */
export const floodScenario: Scenario = {
  id: 'flood',
  title: '7. A flood of malformed WebSocket frames',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const impls = (['atmosphere', 'ws'] as const).filter((impl) => options.impls.includes(impl));
    const runs: FloodRun[] = [];
    for (const impl of impls) runs.push(await floodOnce(context, impl));
    const counted = options.floodConnections > 0;
    const atmosphere = runs.find((run) => run.impl === 'atmosphere');
    const what = counted
      ? `${options.floodConnections} malformed connections from ${options.floodSockets} sockets`
      : `${options.floodSockets} sockets sending malformed frames for ${(options.floodDurationMs / 1000).toFixed(0)} s`;
    const row = (
      metric: string,
      unit: string,
      pick: (run: FloodRun) => number,
      digits?: number,
    ): ScenarioReport['comparisons'][number]['rows'][number] => ({
      metric,
      unit,
      values: runs.map(pick),
      ...(digits === undefined ? {} : { digits }),
      ratio: false,
    });
    const MiB = 2 ** 20;
    const spaceGrowth = (run: FloodRun, space: string): number =>
      (run.settled.spaces[space] ?? 0) - (run.baseline.spaces[space] ?? 0);
    const goals: ScenarioReport['goals'] = [];
    if (atmosphere !== undefined) {
      const growth = (atmosphere.peakRss - atmosphere.baseline.rss) / MiB;
      goals.push(
        goal('Flood: server RSS growth ≤ 64 MiB', growth, 64, 'atMost', (v) => `${v.toFixed(1)} MiB`),
        goal(
          'Flood: legitimate round trip p99 ≤ 100 ms',
          percentile(atmosphere.rtts, 0.99),
          100,
          'atMost',
          (v) => `${v.toFixed(1)} ms`,
        ),
        goal('Flood: no resource left away', atmosphere.after.resources.away, 0, 'atMost', (v) => String(v)),
      );
    }
    return {
      comparisons: [
        {
          title: `${what}, one legitimate echo client`,
          columns: runs.map((run) => LABELS[run.impl]),
          baseline: 0,
          rows: [
            row('Malformed connections', '', (run) => run.attempts),
            row('Malformed connections per second', '/s', (run) => run.attempts / (run.elapsedMs / 1000)),
            row('Closed by the server with a close code', '', (run) => run.refused),
            row('Server RSS baseline', 'MiB', (run) => run.baseline.rss / MiB, 1),
            row(
              'Server RSS growth (peak − baseline)',
              'MiB',
              (run) => (run.peakRss - run.baseline.rss) / MiB,
              1,
            ),
            row(
              'Server heap used after the flood and a gc, minus baseline',
              'MiB',
              (run) => (run.settled.heapUsed - run.baseline.heapUsed) / MiB,
              1,
            ),
            row(
              'Server heap reserved at the peak (V8 heapTotal)',
              'MiB',
              (run) => run.peakHeapTotal / MiB,
              1,
            ),
            row(
              'of which young generation growth (new space)',
              'MiB',
              (run) => spaceGrowth(run, 'new_space'),
              1,
            ),
            row(
              'of which old generation growth (old space)',
              'MiB',
              (run) => spaceGrowth(run, 'old_space'),
              1,
            ),
            row('Resources held at the peak', '', (run) => run.peakResources),
            row('Resources away after the flood', '', (run) => run.after.resources.away),
            row('Legitimate round trip p50', 'ms', (run) => percentile(run.rtts, 0.5), 2),
            row('Legitimate round trip p99', 'ms', (run) => percentile(run.rtts, 0.99), 2),
            row('Legitimate round trips', '', (run) => run.rtts.length),
          ],
        },
      ],
      goals,
      notes: [
        'RSS grows mostly as V8 grows its young generation for the garbage of the refused connections (up to ' +
          'two semi-spaces of `--max-semi-space-size`, 64 MiB each by default on Node 24 on a 24 GiB machine); the raw ws column ' +
          'takes the same flood.',
      ],
      profiles: [],
      data: runs.map(({ rtts, ...run }) => ({ ...run, rtts: rtts.length })),
    };
  },
};

function percentile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)] ?? NaN;
}

async function floodOnce(context: BenchContext, impl: 'atmosphere' | 'ws'): Promise<FloodRun> {
  const { options } = context;
  const child = fork(join(import.meta.dirname, '..', 'servers', 'flood-server.ts'), [impl], {
    execArgv: ['--conditions=@atmosphere/source', '--expose-gc', ...FLOOD_NODE_FLAGS],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const replies: ((message: { type: string } & Record<string, unknown>) => void)[] = [];
  child.on('message', (message: { type: string } & Record<string, unknown>) => replies.shift()?.(message));
  const next = (): Promise<{ type: string } & Record<string, unknown>> =>
    new Promise((resolve) => replies.push(resolve));
  const stats = async (gc = false): Promise<Stats> => {
    const reply = next();
    child.send({ type: 'stats', gc });
    return (await reply) as unknown as Stats;
  };
  try {
    const { port } = (await next()) as unknown as { port: number };
    const url = `ws://127.0.0.1:${port}/echo?X-Atmosphere-tracking-id=0&X-Atmosphere-Transport=websocket`;
    const legit = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      legit.once('open', () => resolve());
      legit.once('error', reject);
    });
    const baseline = await stats(true);
    // A fixed count (`--flood-connections`) runs until that many connections were refused, within a
    // deadline; otherwise the flood lasts `floodDurationMs`.
    const counted = options.floodConnections > 0;
    const maxAttempts = counted ? options.floodConnections : options.floodMaxAttempts;
    const started = Date.now();
    const deadline = started + (counted ? COUNTED_DEADLINE_MS : options.floodDurationMs);
    let flooding = true;
    let attempts = 0;
    let refused = 0;
    const flooder = async (): Promise<void> => {
      while (Date.now() < deadline && attempts < maxAttempts) {
        const frame = MALFORMED[attempts++ % MALFORMED.length]!;
        if (await violate(port, frame)) refused++;
      }
    };
    const rtts: number[] = [];
    const pinger = async (): Promise<void> => {
      for (let i = 0; flooding; i++) {
        const marker = `ping-${i}`;
        const started = performance.now();
        await new Promise<void>((resolve) => {
          const onMessage = (data: Buffer): void => {
            if (data.toString() !== marker) return;
            legit.off('message', onMessage);
            resolve();
          };
          legit.on('message', onMessage);
          legit.send(marker);
        });
        rtts.push(performance.now() - started);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    let peakRss = baseline.rss;
    let peakHeapTotal = baseline.heapTotal;
    let peakResources = 0;
    const sampler = async (): Promise<void> => {
      while (flooding) {
        const sample = await stats();
        peakRss = Math.max(peakRss, sample.rss);
        peakHeapTotal = Math.max(peakHeapTotal, sample.heapTotal);
        peakResources = Math.max(peakResources, sample.resources.connected + sample.resources.away);
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
    };
    const flood = async (): Promise<void> => {
      await Promise.all(Array.from({ length: options.floodSockets }, flooder));
      flooding = false;
    };
    context.log(
      `${options.floodSockets} sockets flooding malformed frames ${counted ? `for ${maxAttempts} connections` : `for ${options.floodDurationMs} ms`}`,
    );
    await Promise.all([flood(), pinger(), sampler()]);
    const elapsedMs = Date.now() - started;
    const after = await stats();
    peakRss = Math.max(peakRss, after.rss);
    const settled = await stats(true);
    legit.close();
    const growthMiB = (peakRss - baseline.rss) / 2 ** 20;
    context.log(
      `${impl}: ${attempts} malformed connections in ${elapsedMs} ms, ${refused} closed by the server; RSS +${growthMiB.toFixed(1)} MiB (heap reserved at the peak ${(peakHeapTotal / 2 ** 20).toFixed(1)} MiB); heap retained after a gc +${((settled.heapUsed - baseline.heapUsed) / 2 ** 20).toFixed(1)} MiB; p99 ${percentile(rtts, 0.99).toFixed(1)} ms; resources after: ${JSON.stringify(after.resources)}`,
    );
    return {
      impl,
      attempts,
      refused,
      elapsedMs,
      baseline,
      after,
      settled,
      peakRss,
      peakHeapTotal,
      peakResources,
      rtts,
    };
  } finally {
    child.send({ type: 'close' });
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve();
      }, 5_000);
      child.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

/**
 * One hostile connection: upgrade by hand, send `frame` after the 101, and wait for the server to drop it.
 * True when the server answered with a close frame (a close code) before dropping it.
 */
function violate(port: number, frame: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const socket: Socket = connect(port, '127.0.0.1', () => {
      socket.write(
        'GET /echo?X-Atmosphere-tracking-id=0&X-Atmosphere-Transport=websocket HTTP/1.1\r\n' +
          `Host: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = '';
    let sent = false;
    let closeFrame = false;
    socket.on('data', (chunk: Buffer) => {
      if (!sent) {
        head += chunk.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        sent = true;
        socket.write(frame);
        return;
      }
      // A server close frame (opcode 8) among what follows the handshake.
      for (let i = 0; i < chunk.length; i++) if (chunk[i] === 0x88) closeFrame = true;
    });
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on('error', () => undefined);
    socket.on('close', () => resolve(closeFrame));
  });
}
