import { join } from 'node:path';

/** The scenarios, in the order they run. */
export const SCENARIOS = [
  'fanout',
  'memory',
  'tokens',
  'http',
  'replay',
  'scale',
  'flood',
  'durable',
  'cluster',
  'observability',
] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

/** The WebSocket implementations compared side by side. */
export const IMPLS = ['atmosphere', 'ws', 'ws-frame-once', 'socketio'] as const;
export type Impl = (typeof IMPLS)[number];

/**
 * How the fan-out's tracing contenders run the OpenTelemetry SDK (`--tracing`); `unsampled-always` is
 * `unsampled` with `tracing({ broadcastSpans: 'always' })` (the default is `'in-sampled-trace'`).
 */
export const TRACING_MODES = ['unsampled', 'sampled', 'unsampled-always'] as const;
export type TracingMode = (typeof TRACING_MODES)[number];

/** Everything a run can be told; `--quick` changes the defaults, explicit flags win. */
export interface BenchOptions {
  quick: boolean;
  scenarios: ScenarioId[];
  impls: Impl[];
  /** Fan-out sizes (WebSocket clients). */
  fanoutClients: number[];
  /** Client processes for fan-out and memory runs. */
  clientProcesses: number;
  /** Interleaved rounds of each fan-out comparison (the median is reported). */
  rounds: number;
  /**
   * Fan-out and tokens: also run Atmosphere with metrics and OpenTelemetry tracing on, once per mode given — `unsampled`
   * (the SDK installed, every trace dropped by the sampler) and `sampled` (every broadcast's span recorded and
   * exported), and `unsampled-always` (`unsampled` with `tracing({ broadcastSpans: 'always' })`: the tracer
   * is asked for every broadcast, not only inside a sampled trace). Default none.
   */
  tracing: TracingMode[];
  /** Length of the max-rate phase. */
  maxDurationMs: number;
  /** Length of the paced phase. */
  pacedDurationMs: number;
  /** Paced phase load: delivered messages per second (broadcasts/s = this ÷ clients). */
  pacedMessagesPerSecond: number;
  /** Max-rate credit window, in messages (broadcasts in flight = this ÷ clients, at least 4). */
  windowMessages: number;
  /** Idle connections for the memory scenario. */
  memoryClients: number;
  /** WebSocket clients of the cluster scenario, half on each of its two nodes. */
  clusterClients: number;
  /** Clients of the SSE and long-polling fan-out. */
  httpClients: number;
  /** Messages a client misses before it reconnects (replay). */
  replayMessages: number;
  replayRounds: number;
  /** Token streaming: frames of the back-to-back burst, of the paced stream, and the paced rate. */
  tokenFrames: number;
  pacedTokenFrames: number;
  tokenRate: number;
  tokenRounds: number;
  /** Durability: idle clients holding a durable session (memory per session), and kills of the restart run. */
  durableSessions: number;
  restartKills: number;
  /** Scale: connections to aim for (bounded by the machine's open-file limit). */
  scaleTarget: number;
  scaleImpls: Impl[];
  /** Scale: server processes on one port (0 = as many as the open-file limit requires). */
  scaleServerProcesses: number;
  /** Scale: how long to hold the connections with heartbeats on. */
  scaleHoldMs: number;
  scaleHeartbeatMs: number;
  /**
   * Flood: how long the malformed frames are sent, from how many sockets, and how many connections at most.
   * `floodConnections` > 0 makes the flood a fixed count instead (that many malformed connections, however
   * long they take, within a deadline of 10 minutes): a figure that compares between machines.
   */
  floodDurationMs: number;
  floodSockets: number;
  floodMaxAttempts: number;
  floodConnections: number;
  /** CPU-profile the server processes (`--cpu-prof`) and summarise the top functions. */
  profile: boolean;
  /** Keep the other scenarios of the existing latest.json (re-running some of them). */
  merge: boolean;
  /** Rewrite the results section of docs/performance.md. */
  updateDocs: boolean;
  outDir: string;
}

const HELP = `Usage: pnpm bench [-- options]   (pnpm bench:quick = --quick)

  --quick                 small sizes, under a minute (the CI smoke run)
  --only=a,b              scenarios: ${SCENARIOS.join(', ')}
  --impl=a,b              implementations: ${IMPLS.join(', ')}
  --clients=1000,5000     fan-out sizes
  --client-procs=2        client processes for fan-out and memory
  --duration=ms           length of each max-rate and paced phase
  --rounds=3              interleaved rounds per fan-out comparison (median reported)
  --tracing=unsampled,sampled   fan-out and tokens: Atmosphere + metrics (+ OpenTelemetry tracing) columns (default none;
                          also unsampled-always: broadcastSpans 'always')
  --paced-rate=20000      paced load in delivered messages per second
  --memory-clients=5000   idle connections for the memory scenario
  --cluster-clients=2000  clients of the cluster scenario (half on each of its two nodes)
  --http-clients=1000     SSE / long-polling fan-out size
  --tokens=2000           frames of the token burst
  --token-rounds=9        interleaved rounds of each token burst comparison (median reported)
  --replay-rounds=15      measured reconnections per implementation in the replay scenario (median reported)
  --durable-sessions=5000 idle clients holding a durable session (durable scenario)
  --kills=30              kill -9 and restart of the server per store (durable scenario)
  --scale=100000          scale target (connections on one node)
  --scale-impl=a,b        implementations in the scale run
  --scale-procs=N         server processes on one port in the scale run (default: what ulimit -Hn requires)
  --flood-duration=60000  length of the malformed-frame flood (ms)
  --flood-connections=N   a fixed-count flood instead: N malformed connections, whatever the time they take
  --profile               CPU-profile the servers; summary in the results
  --merge                 keep the other scenarios of the existing latest.json (re-run a part)
  --update-docs           also rewrite the results section of docs/performance.md
  --out=dir               results directory (default bench/results; quick runs: bench/results/tmp/quick)
`;

function list<T extends string>(value: string, allowed: readonly T[], flag: string): T[] {
  const items = value.split(',').filter((v) => v.length > 0);
  for (const item of items) {
    if (!allowed.includes(item as T))
      throw new Error(`${flag}: unknown value ${item}; use ${allowed.join(', ')}`);
  }
  return items as T[];
}

function positive(value: string, flag: string): number {
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0)
    throw new Error(`${flag} needs a positive number, got ${value}`);
  return number;
}

/** Parses the command line; prints help and exits on `--help`. */
export function parseOptions(argv: readonly string[], benchDir: string): BenchOptions {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(HELP);
    process.exit(0);
  }
  const quick = argv.includes('--quick');
  const options: BenchOptions = {
    quick,
    scenarios: [...SCENARIOS],
    impls: [...IMPLS],
    fanoutClients: quick ? [200] : [1000, 5000],
    clientProcesses: 2,
    rounds: quick ? 1 : 3,
    tracing: [],
    maxDurationMs: quick ? 1000 : 5000,
    pacedDurationMs: quick ? 1000 : 5000,
    pacedMessagesPerSecond: 20_000,
    windowMessages: 20_000,
    memoryClients: quick ? 500 : 5000,
    clusterClients: quick ? 200 : 2000,
    httpClients: quick ? 50 : 1000,
    replayMessages: 1000,
    replayRounds: quick ? 3 : 15,
    tokenFrames: 2000,
    pacedTokenFrames: 100,
    tokenRate: 50,
    tokenRounds: quick ? 1 : 9,
    durableSessions: quick ? 500 : 5000,
    restartKills: quick ? 10 : 30,
    scaleTarget: quick ? 3000 : 100_000,
    scaleImpls: quick ? ['atmosphere'] : [...IMPLS],
    // Quick: two processes on one port, so the smoke run goes through reusePort and the relay.
    scaleServerProcesses: quick ? 2 : 0,
    scaleHoldMs: quick ? 1200 : 12_000,
    scaleHeartbeatMs: quick ? 1000 : 5000,
    floodDurationMs: quick ? 3_000 : 60_000,
    floodSockets: 8,
    floodMaxAttempts: quick ? 5_000 : 5_000_000,
    floodConnections: 0,
    profile: false,
    merge: false,
    updateDocs: false,
    // Quick runs are smoke checks: their results stay out of the tracked files.
    outDir: quick ? join(benchDir, 'results', 'tmp', 'quick') : join(benchDir, 'results'),
  };
  for (const arg of argv) {
    if (arg === '--quick' || arg === '--') continue;
    const [flag, value = ''] = arg.split('=', 2) as [string, string?];
    switch (flag) {
      case '--only':
        options.scenarios = list(value, SCENARIOS, flag);
        break;
      case '--impl':
        options.impls = list(value, IMPLS, flag);
        options.scaleImpls = options.scaleImpls.filter((i) => options.impls.includes(i));
        break;
      case '--scale-impl':
        options.scaleImpls = list(value, IMPLS, flag);
        break;
      case '--clients':
        options.fanoutClients = value.split(',').map((v) => positive(v, flag));
        break;
      case '--client-procs':
        options.clientProcesses = positive(value, flag);
        break;
      case '--duration':
        options.maxDurationMs = options.pacedDurationMs = positive(value, flag);
        break;
      case '--rounds':
        options.rounds = positive(value, flag);
        break;
      case '--tracing':
        options.tracing = list(value, TRACING_MODES, flag);
        break;
      case '--paced-rate':
        options.pacedMessagesPerSecond = positive(value, flag);
        break;
      case '--memory-clients':
        options.memoryClients = positive(value, flag);
        break;
      case '--durable-sessions':
        options.durableSessions = positive(value, flag);
        break;
      case '--kills':
        options.restartKills = positive(value, flag);
        break;
      case '--cluster-clients':
        options.clusterClients = positive(value, flag);
        break;
      case '--http-clients':
        options.httpClients = positive(value, flag);
        break;
      case '--tokens':
        options.tokenFrames = positive(value, flag);
        break;
      case '--token-rounds':
        options.tokenRounds = positive(value, flag);
        break;
      case '--replay-rounds':
        options.replayRounds = positive(value, flag);
        break;
      case '--scale-procs':
        options.scaleServerProcesses = positive(value, flag);
        break;
      case '--scale':
        options.scaleTarget = positive(value, flag);
        break;
      case '--flood-duration':
        options.floodDurationMs = positive(value, flag);
        break;
      case '--flood-connections':
        options.floodConnections = positive(value, flag);
        break;
      case '--profile':
        options.profile = true;
        break;
      case '--merge':
        options.merge = true;
        break;
      case '--update-docs':
        options.updateDocs = true;
        break;
      case '--out':
        options.outDir = value;
        break;
      default:
        throw new Error(`unknown option ${arg}\n\n${HELP}`);
    }
  }
  return options;
}
