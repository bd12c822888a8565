/**
 * The server-side cost of one broadcast with no recipient, in one process: the work a broadcast pays once
 * whatever its fan-out (filters, log append, metrics, the broadcast span), without sockets or clients, so that
 * differences of a few hundred nanoseconds stand out of the noise the end-to-end fan-out runs have.
 *
 * Each mode runs in a process of its own (the OpenTelemetry context manager is global), the modes interleaved
 * round by round: `plain` (no observability), `metrics`, `unsampled` (metrics + tracing, every trace dropped by
 * the sampler), `sampled` (metrics + tracing, every span recorded and exported to nothing), as the fan-out
 * scenario's `--tracing` columns set them up (tracing's default, `broadcastSpans: 'in-sampled-trace'`);
 * `unsampled-always` is `unsampled` with `tracing({ broadcastSpans: 'always' })`.
 *
 * Run: `node --conditions=@atmosphere/source --expose-gc src/tools/broadcast-cost.ts [--rounds=5]
 * [--broadcasts=200000] [--modes=plain,metrics,unsampled,sampled,unsampled-always]` from bench/.
 * A probe for finding where a broadcast's time goes, not a scenario: it prints medians, it asserts nothing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startAtmosphere } from '../servers/atmosphere.ts';

type Mode = 'plain' | 'metrics' | 'unsampled' | 'sampled' | 'unsampled-always';
const MODES: readonly Mode[] = ['plain', 'metrics', 'unsampled', 'sampled', 'unsampled-always'];

function flag(name: string): string | undefined {
  return process.argv.find((argument) => argument.startsWith(`--${name}=`))?.slice(name.length + 3);
}

/** One process, one mode: CPU ns per broadcast over `count` broadcasts after a warm-up. */
async function measure(mode: Mode, count: number): Promise<number> {
  const target = await startAtmosphere({
    impl: 'atmosphere',
    heartbeatMs: 0,
    metrics: mode !== 'plain',
    ...(mode === 'unsampled' || mode === 'sampled' ? { tracing: mode } : {}),
    ...(mode === 'unsampled-always' ? { tracing: 'unsampled', broadcastSpans: 'always' } : {}),
  });
  const payload = 'x'.repeat(64);
  const batch = 1_000;
  // Process CPU time, not wall time: on a shared machine a wall clock also counts the time other processes
  // ran. It includes what each batch of broadcasts left for later (microtasks, the span processor).
  const run = async (total: number): Promise<number> => {
    const started = process.cpuUsage();
    for (let done = 0; done < total; done += batch) {
      for (let i = 0; i < batch; i++) target.broadcast(payload);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const used = process.cpuUsage(started);
    return ((used.user + used.system) * 1000) / total;
  };
  await run(Math.min(count, 50_000));
  globalThis.gc?.();
  const nanos = await run(count);
  await target.close();
  return nanos;
}

const child = flag('child') as Mode | undefined;
const count = Number(flag('broadcasts') ?? 200_000);
if (child !== undefined) {
  process.stdout.write(`${(await measure(child, count)).toFixed(1)}\n`);
} else {
  const rounds = Number(flag('rounds') ?? 5);
  const modes = (flag('modes')?.split(',') ?? MODES) as Mode[];
  const results = new Map<Mode, number[]>(modes.map((mode) => [mode, []]));
  const entry = fileURLToPath(import.meta.url);
  for (let round = 0; round < rounds; round++) {
    for (const mode of modes) {
      const result = spawnSync(
        process.execPath,
        ['--conditions=@atmosphere/source', '--expose-gc', entry, `--child=${mode}`, `--broadcasts=${count}`],
        { encoding: 'utf8' },
      );
      if (result.status !== 0) throw new Error(`${mode} failed: ${result.stderr}`);
      results.get(mode)!.push(Number(result.stdout.trim()));
    }
  }
  const median = (values: number[]): number => values.toSorted((a, b) => a - b)[values.length >> 1]!;
  const base = median(results.get(modes[0]!)!);
  for (const [mode, values] of results) {
    const m = median(values);
    console.log(
      `${mode.padEnd(10)} ${m.toFixed(0).padStart(6)} ns/broadcast (median of ${values.length}: ${values.map((v) => v.toFixed(0)).join(' ')}), +${(m - base).toFixed(0)} ns over ${modes[0]}`,
    );
  }
}
