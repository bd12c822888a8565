import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { WebSocket } from 'ws';
import type { BenchContext } from './context.ts';
import { goal, type Scenario, type ScenarioReport } from './scenario.ts';

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

interface Stats {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  resources: { connected: number; away: number; awayEvicted: number };
  warnings: number;
}

/**
 * Scenario 7: a flood of malformed WebSocket frames. `floodSockets` sockets each open a WebSocket on a new
 * tracking id, send a malformed frame and open the next as soon as the server drops it, for `floodDurationMs`
 * (and at most `floodMaxAttempts` in all); meanwhile a legitimate client's echo round trips are timed, and the
 * server's RSS is sampled. Each violation must end its resource at once, so neither RSS nor the legitimate
 * client's latency may grow with the flood.
 */
export const floodScenario: Scenario = {
  id: 'flood',
  title: '7. A flood of malformed WebSocket frames',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const child = fork(join(import.meta.dirname, '..', 'servers', 'flood-server.ts'), [], {
      execArgv: ['--conditions=@atmosphere/source', '--expose-gc'],
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
      const url = `ws://127.0.0.1:${port}/echo?X-Atmosphere-tracking-id=0&X-Atmosphere-Transport=websocket&X-atmo-protocol=true`;
      const legit = new WebSocket(url);
      await new Promise<void>((resolve, reject) => {
        legit.once('message', () => resolve());
        legit.once('error', reject);
      });
      const baseline = await stats(true);
      const durationMs = options.floodDurationMs;
      const deadline = Date.now() + durationMs;
      let attempts = 0;
      let refused = 0;
      const flooder = async (): Promise<void> => {
        while (Date.now() < deadline && attempts < options.floodMaxAttempts) {
          const frame = MALFORMED[attempts++ % MALFORMED.length]!;
          if (await violate(port, frame)) refused++;
        }
      };
      const rtts: number[] = [];
      const pinger = async (): Promise<void> => {
        for (let i = 0; Date.now() < deadline; i++) {
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
      let peakResources = 0;
      const sampler = async (): Promise<void> => {
        while (Date.now() < deadline) {
          const sample = await stats();
          peakRss = Math.max(peakRss, sample.rss);
          peakResources = Math.max(peakResources, sample.resources.connected + sample.resources.away);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      };
      context.log(`${options.floodSockets} sockets flooding malformed frames for ${durationMs} ms`);
      await Promise.all([...Array.from({ length: options.floodSockets }, flooder), pinger(), sampler()]);
      const after = await stats();
      const settled = await stats(true);
      const retainedMiB = (settled.heapUsed - baseline.heapUsed) / 2 ** 20;
      legit.close();
      const sorted = [...rtts].sort((a, b) => a - b);
      const p = (q: number): number =>
        sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * q) - 1)] ?? NaN;
      const growthMiB = (peakRss - baseline.rss) / 2 ** 20;
      context.log(
        `${attempts} attempts, ${refused} closed by the server; RSS +${growthMiB.toFixed(1)} MiB; heap retained after a gc +${retainedMiB.toFixed(1)} MiB; p99 ${p(0.99).toFixed(1)} ms; resources after: ${JSON.stringify(after.resources)}`,
      );
      return {
        comparisons: [
          {
            title: `${options.floodSockets} sockets sending malformed frames for ${(durationMs / 1000).toFixed(0)} s, one legitimate echo client`,
            columns: ['Atmosphere'],
            baseline: 0,
            rows: [
              { metric: 'Malformed connections', unit: '', values: [attempts], ratio: false },
              { metric: 'Closed by the server with a close code', unit: '', values: [refused], ratio: false },
              {
                metric: 'Server RSS baseline',
                unit: 'MiB',
                values: [baseline.rss / 2 ** 20],
                digits: 1,
                ratio: false,
              },
              {
                metric: 'Server RSS growth (peak − baseline)',
                unit: 'MiB',
                values: [growthMiB],
                digits: 1,
                ratio: false,
              },
              {
                metric: 'Server heap used after the flood and a gc, minus baseline',
                unit: 'MiB',
                values: [retainedMiB],
                digits: 1,
                ratio: false,
              },
              {
                metric: 'Server heap reserved after the flood (V8 heapTotal)',
                unit: 'MiB',
                values: [settled.heapTotal / 2 ** 20],
                digits: 1,
                ratio: false,
              },
              { metric: 'Resources held at the peak', unit: '', values: [peakResources], ratio: false },
              {
                metric: 'Resources away after the flood',
                unit: '',
                values: [after.resources.away],
                ratio: false,
              },
              { metric: 'Legitimate round trip p50', unit: 'ms', values: [p(0.5)], digits: 2, ratio: false },
              { metric: 'Legitimate round trip p99', unit: 'ms', values: [p(0.99)], digits: 2, ratio: false },
              { metric: 'Legitimate round trips', unit: '', values: [rtts.length], ratio: false },
            ],
          },
        ],
        goals: [
          goal('Flood: server RSS growth ≤ 64 MiB', growthMiB, 64, 'atMost', (v) => `${v.toFixed(1)} MiB`),
          goal(
            'Flood: legitimate round trip p99 ≤ 100 ms',
            p(0.99),
            100,
            'atMost',
            (v) => `${v.toFixed(1)} ms`,
          ),
          goal('Flood: no resource left away', after.resources.away, 0, 'atMost', (v) => String(v)),
        ],
        notes: [],
        profiles: [],
        data: { attempts, refused, baseline, after, settled, peakRss, peakResources, rtts: rtts.length },
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
  },
};

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
