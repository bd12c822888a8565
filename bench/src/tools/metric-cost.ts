/**
 * What the `metrics` provider's instruments cost per broadcast, alone: the broadcast latency histogram's
 * `observe`, the two counters a broadcast adds to, the two clock reads that time it, all of it together, and
 * all of it as the runtime records broadcasts (every one counted, one in 16 timed: `broadcastTiming`),
 * on `metrics({ registry })` over a prom-client registry as an application sets it up (the instruments bound
 * once, as the runtime binds them). Process CPU time per call over `--calls` calls, `--rounds` rounds, medians.
 *
 * Run: `node --conditions=@atmosphere/source src/tools/metric-cost.ts [--rounds=5] [--calls=2000000]` from bench/.
 * A probe, not a scenario: it prints medians, it asserts nothing.
 */
import { metrics } from '@atmosphere/observability';
import { Registry } from 'prom-client';

function flag(name: string): string | undefined {
  return process.argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const rounds = Number(flag('rounds') ?? 5);
const calls = Number(flag('calls') ?? 2_000_000);
const silent = { debug() {}, info() {}, warn() {}, error() {} };
const provider = await metrics({ registry: new Registry() }).create({
  env: {},
  logger: silent,
  settings: {},
});
const broadcasts = provider.counter({ name: 'probe_broadcast_total', help: 'probe' });
const delivered = provider.counter({ name: 'probe_delivered_total', help: 'probe' });
const seconds = provider.histogram({
  name: 'probe_broadcast_duration_seconds',
  help: 'probe',
  buckets: [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.5, 1],
});

/** CPU ns per call of `work`. */
function time(work: (i: number) => void): number {
  const started = process.cpuUsage();
  for (let i = 0; i < calls; i++) work(i);
  const used = process.cpuUsage(started);
  return ((used.user + used.system) * 1000) / calls;
}

let sink = 0;
const cases: Record<string, (i: number) => void> = {
  'histogram observe': (i) => seconds.observe(1e-6 * (1 + (i & 7))),
  'two counters': () => {
    broadcasts.add();
    delivered.add(1);
  },
  'two clock reads': () => {
    const started = performance.now();
    sink += performance.now() - started;
  },
  'all of a broadcast': () => {
    const started = performance.now();
    broadcasts.add();
    delivered.add(1);
    seconds.observe((performance.now() - started) / 1000);
  },
  // As the runtime records broadcasts: every one counted, the first and then one in 16 timed.
  'one in 16 timed': (i) => {
    const started = (i & 15) === 0 ? performance.now() : 0;
    broadcasts.add();
    delivered.add(1);
    if (started !== 0) seconds.observe((performance.now() - started) / 1000);
  },
};
const results = new Map<string, number[]>(Object.keys(cases).map((name) => [name, []]));
for (let round = 0; round < rounds; round++)
  for (const [name, work] of Object.entries(cases)) results.get(name)!.push(time(work));
for (const [name, values] of results) {
  const median = values.toSorted((a, b) => a - b)[values.length >> 1]!;
  console.log(
    `${name.padEnd(20)} ${median.toFixed(1).padStart(6)} ns (median of ${values.length}: ${values.map((v) => v.toFixed(0)).join(' ')})`,
  );
}
if (sink < 0) console.log(sink);
