import { execFile, spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ClientImpl } from '../clients/connector.ts';
import { stopAll } from '../lib/child.ts';
import type { ServerConfig } from '../servers/target.ts';
import type { BenchContext } from './context.ts';
import { windowFor } from './fanout.ts';
import { FanoutSession, type ServerHandle, startClients, startServer, stopRun } from './harness.ts';
import { goal, LABELS, type Scenario, type ScenarioReport, times, WS_CLIENTS, wsServer } from './scenario.ts';
import { streamOnce } from './tokens.ts';

const run = promisify(execFile);

/** A column: Atmosphere with what it observes, or the frame-once ceiling (fan-out only). */
interface Mode {
  key: 'plain' | 'metrics' | 'unsampled' | 'sampled' | 'ws-frame-once';
  label: string;
  server: ServerConfig;
  /** The clients that speak to it. */
  client: ClientImpl;
  /** Token frames counted too (the ceiling is a fan-out server only). */
  tokens: boolean;
}

const BASE = wsServer('atmosphere', 30_000);
const CLIENT = WS_CLIENTS.atmosphere;
const MODES: readonly Mode[] = [
  { key: 'plain', label: 'Atmosphere', server: BASE, client: CLIENT, tokens: true },
  { key: 'metrics', label: '+ metrics', server: { ...BASE, metrics: true }, client: CLIENT, tokens: true },
  {
    key: 'unsampled',
    label: '+ metrics + tracing (unsampled)',
    server: { ...BASE, metrics: true, tracing: 'unsampled' },
    client: CLIENT,
    tokens: true,
  },
  {
    key: 'sampled',
    label: '+ metrics + tracing (every span sampled)',
    server: { ...BASE, metrics: true, tracing: 'sampled' },
    client: CLIENT,
    tokens: true,
  },
  // The fan-out ceiling of scenario 1 (issue 23): the same workload's instructions on the leanest server.
  {
    key: 'ws-frame-once',
    label: LABELS['ws-frame-once'],
    server: wsServer('ws-frame-once', 30_000),
    client: WS_CLIENTS['ws-frame-once'],
    tokens: false,
  },
];

interface TokenSettings {
  frames: number;
  warm: number;
  stretches: number;
  bursts: number;
}

interface FanoutSettings {
  clients: number;
  warmMs: number;
  durationMs: number;
  stretches: number;
}

/** What each stretch cost the server: instructions per token frame, and per delivered message. */
interface Measured {
  mode: Mode['key'];
  tokens: number[];
  fanout: number[];
}

/** True when valgrind's callgrind can run here. */
function haveCallgrind(): boolean {
  return (
    spawnSync('valgrind', ['--version'], { stdio: 'ignore' }).status === 0 &&
    spawnSync('callgrind_control', ['--version'], { stdio: 'ignore' }).status === 0
  );
}

/**
 * A server process under callgrind: `zero()` resets its instruction count, `dump()` writes what it counted
 * since and returns it (every thread of the process: the JavaScript, V8's compilers and collectors, Node).
 */
class CountedServer {
  readonly handle: ServerHandle;
  readonly #dir: string;
  readonly #name: string;

  private constructor(handle: ServerHandle, dir: string, name: string) {
    this.handle = handle;
    this.#dir = dir;
    this.#name = name;
  }

  static async start(context: BenchContext, config: ServerConfig, label: string): Promise<CountedServer> {
    const dir = join(context.profileDir, '..', 'callgrind');
    await mkdir(dir, { recursive: true });
    const handle = await startServer(context, config, label, {
      wrapper: [
        'valgrind',
        '--tool=callgrind',
        `--callgrind-out-file=${join(dir, `${label}.%p`)}`,
        `--log-file=${join(dir, `${label}-valgrind.%p.log`)}`,
        '--dump-instr=no',
        '--dump-line=no',
      ],
      // V8 on one thread, without concurrent compilation or marking: the same server counts the same from one
      // process to the next (two processes, stretch by stretch: 13 012 / 14 911 / 18 181 and 13 035 / 14 911 /
      // 18 017 instructions per token frame); without it processes of one server differed by up to 8 %.
      nodeFlags: ['--predictable'],
    });
    return new CountedServer(handle, dir, label);
  }

  get pid(): string {
    return String(this.handle.child.process.pid);
  }

  /**
   * Zeroes the count. (A full collection first, `gc()`, to start every stretch from the same heap, made every
   * stretch slower instead: 19 000–26 000 instructions per token frame against 12 400–13 100 without it.)
   */
  async zero(): Promise<void> {
    await run('callgrind_control', ['-z', this.pid], { timeout: 60_000 });
  }

  async dump(): Promise<number> {
    await run('callgrind_control', ['-d', this.pid], { timeout: 60_000 });
    const prefix = `${this.#name}.${this.pid}.`;
    const dumps = (await readdir(this.#dir))
      .filter((file) => file.startsWith(prefix))
      .sort((a, b) => Number(a.slice(prefix.length)) - Number(b.slice(prefix.length)));
    const text = await readFile(join(this.#dir, dumps[dumps.length - 1]!), 'utf8');
    const summary = /^summary:\s*(\d+)/m.exec(text);
    if (summary === null) throw new Error(`${this.#name}: no summary line in its callgrind dump`);
    return Number(summary[1]);
  }
}

/** The mean of the stretches: a collection lands in one stretch or another, and every one counts. */
function mean(values: readonly number[]): number {
  return values.length === 0 ? Number.NaN : values.reduce((sum, v) => sum + v, 0) / values.length;
}

/** Token frames: one client, bursts of `frames`; instructions per frame, once per stretch. */
async function countTokens(
  context: BenchContext,
  server: CountedServer,
  label: string,
  settings: TokenSettings,
): Promise<number[]> {
  const group = await startClients(
    context,
    server.handle,
    { impl: WS_CLIENTS.atmosphere, count: 1, processes: 1, payload: 'frames' },
    `${label}-tokens`,
  );
  try {
    if (group.connected !== 1)
      throw new Error(`${label}: the token client could not connect: ${group.firstError ?? 'unknown'}`);
    const stream = { count: settings.frames, intervalMs: 0 };
    for (let i = 0; i < settings.warm; i++) await streamOnce(server.handle, group, stream);
    const counts: number[] = [];
    for (let stretch = 0; stretch < settings.stretches; stretch++) {
      context.log(
        `${label}: tokens, stretch ${stretch + 1}/${settings.stretches}, ${settings.bursts} bursts`,
      );
      await server.zero();
      let frames = 0;
      for (let i = 0; i < settings.bursts; i++) {
        const { result } = await streamOnce(server.handle, group, stream);
        if (result.received < result.frames)
          throw new Error(`${label}: ${result.received} of ${result.frames} frames arrived`);
        frames += result.frames;
      }
      counts.push((await server.dump()) / frames);
    }
    return counts;
  } finally {
    await stopAll(group.children);
  }
}

/** Fan-out: `clients` WebSocket clients, max-rate phases; instructions per delivered message. */
async function countFanout(
  context: BenchContext,
  server: CountedServer,
  label: string,
  client: ClientImpl,
  settings: FanoutSettings,
): Promise<number[]> {
  const group = await startClients(
    context,
    server.handle,
    { impl: client, count: settings.clients, processes: context.options.clientProcesses },
    `${label}-fanout`,
  );
  try {
    if (group.connected < settings.clients)
      throw new Error(`${label}: ${group.connected}/${settings.clients} clients connected`);
    const session = new FanoutSession(server.handle, group);
    const phase = (durationMs: number) => ({
      mode: 'max' as const,
      durationMs,
      window: windowFor(settings.clients, context.options.windowMessages),
      drainMs: 120_000,
    });
    await session.phase(phase(settings.warmMs));
    const counts: number[] = [];
    for (let stretch = 0; stretch < settings.stretches; stretch++) {
      context.log(`${label}: fan-out, stretch ${stretch + 1}/${settings.stretches}`);
      await server.zero();
      const result = await session.phase(phase(settings.durationMs));
      if (!result.complete || result.delivered < result.expected)
        throw new Error(`${label}: ${result.delivered} of ${result.expected} messages delivered`);
      counts.push((await server.dump()) / result.delivered);
    }
    return counts;
  } finally {
    await stopAll(group.children);
  }
}

/** One server process per mode: the token stretches, then the fan-out ones. */
async function countMode(
  context: BenchContext,
  mode: Mode,
  tokens: TokenSettings,
  fanout: FanoutSettings | undefined,
): Promise<Measured> {
  const label = `observability-${mode.key}`;
  const server = await CountedServer.start(context, mode.server, label);
  try {
    return {
      mode: mode.key,
      tokens: mode.tokens ? await countTokens(context, server, label, tokens) : [],
      fanout: fanout === undefined ? [] : await countFanout(context, server, label, mode.client, fanout),
    };
  } finally {
    await stopRun(server.handle, undefined);
  }
}

/**
 * Scenario 10: what metrics and tracing cost the server, counted in instructions. The throughput columns of
 * the fan-out and token scenarios (`--tracing`) move by more between rounds than the few per cent measured
 * here; an instruction count does not depend on what else the machine runs. Each server runs under
 * valgrind's callgrind (tens of times slower, so the clients, not counted, always keep up); after a warm-up
 * the count is zeroed, a fixed workload runs, and the count is read: instructions per token frame (bursts to
 * one client, as the token scenario) and per delivered message (max-rate fan-out). User-space instructions
 * only: the kernel's share of each write is not in the denominator, so the ratio is an upper bound of what
 * the instructions add to the CPU time. The frame-once ceiling of scenario 1 takes the same fan-out (issue 23).
 */
export const observabilityScenario: Scenario = {
  id: 'observability',
  title: '10. What metrics and tracing cost the server, in instructions',
  async run(context: BenchContext): Promise<ScenarioReport> {
    const { options } = context;
    const report: ScenarioReport = { comparisons: [], goals: [], notes: [], profiles: [], data: [] };
    if (!haveCallgrind()) {
      report.notes.push('valgrind (callgrind) is not installed here: nothing was counted.');
      return report;
    }
    // Quick: a smoke check of the counting (one server, no fan-out): a server starts in about a minute here.
    const modes = options.quick
      ? MODES.filter((m) => m.key === 'plain')
      : MODES.filter((m) => m.key !== 'ws-frame-once' || options.impls.includes('ws-frame-once'));
    const tokens: TokenSettings = options.quick
      ? { frames: 500, warm: 1, stretches: 1, bursts: 1 }
      : { frames: options.tokenFrames, warm: 20, stretches: 4, bursts: 50 };
    const fanout: FanoutSettings | undefined = options.quick
      ? undefined
      : { clients: 1000, warmMs: 20_000, durationMs: 10_000, stretches: 3 };
    const measured: Measured[] = [];
    for (const mode of modes) measured.push(await countMode(context, mode, tokens, fanout));
    const value = (pick: (m: Measured) => number[]): (number | null)[] =>
      measured.map((m) => (pick(m).length === 0 ? null : mean(pick(m))));
    const spread = (pick: (m: Measured) => number[]): string =>
      measured
        .filter((m) => pick(m).length > 0)
        .map(
          (m) =>
            `${modes.find((mode) => mode.key === m.mode)!.label}: ${pick(m)
              .map((v) => v.toFixed(0))
              .join(', ')}`,
        )
        .join('; ');
    report.comparisons.push({
      title: `Instructions of the server process (callgrind), mean of the stretches`,
      columns: modes.map((mode) => mode.label),
      baseline: 0,
      rows: [
        {
          metric: `Per token frame (${tokens.bursts} burst(s) of ${tokens.frames} frames a stretch)`,
          unit: 'instructions',
          values: value((m) => m.tokens),
        },
        ...(fanout === undefined
          ? []
          : [
              {
                metric: `Per delivered message, fan-out to ${fanout.clients} clients (${fanout.durationMs / 1000} s at max rate a stretch)`,
                unit: 'instructions',
                values: value((m) => m.fanout),
              },
            ]),
      ],
      notes: [
        `Every stretch, per token frame: ${spread((m) => m.tokens)}.`,
        ...(fanout === undefined
          ? []
          : [`Every stretch, per delivered message: ${spread((m) => m.fanout)}.`]),
        'Each column is a server process of its own under valgrind --tool=callgrind, with V8 in predictable mode (`--predictable`: one thread, so a count repeats from one process to the next), warmed up first (token bursts of the measured size, a fan-out phase), its count zeroed with `callgrind_control -z` and read with `-d` around each stretch; every thread of the process counts (JavaScript, V8 compilers and collectors, Node, the system call wrappers), the kernel does not. A stretch with a full collection in it counts more than one without: the figure is the mean of the stretches.',
      ],
    });
    const plain = measured.find((m) => m.mode === 'plain');
    for (const [key, what] of [
      ['metrics', 'with Prometheus metrics on'],
      ['unsampled', 'with metrics and tracing on (unsampled)'],
    ] as const) {
      const m = measured.find((x) => x.mode === key);
      if (plain === undefined || m === undefined) continue;
      report.goals.push(
        goal(
          `Token frame ${what}: ≤ 1.03× Atmosphere's instructions`,
          mean(m.tokens) / mean(plain.tokens),
          1.03,
          'atMost',
          times,
        ),
        goal(
          `Fan-out message ${what}: ≤ 1.03× Atmosphere's instructions`,
          mean(m.fanout) / mean(plain.fanout),
          1.03,
          'atMost',
          times,
        ),
      );
    }
    const ceiling = measured.find((m) => m.mode === 'ws-frame-once');
    if (plain !== undefined && ceiling !== undefined)
      report.notes.push(
        `Fan-out to ${fanout?.clients ?? 0} clients: Atmosphere ${times(mean(plain.fanout) / mean(ceiling.fanout))} the instructions per delivered message of the frame-once ceiling (issue 23; its goals are scenario 1's throughput and CPU).`,
      );
    report.data = measured;
    return report;
  },
};
