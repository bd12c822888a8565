/**
 * The benchmark runner: `pnpm bench` (full) or `pnpm bench:quick` (under a minute). Runs each scenario with
 * its servers and clients in separate processes on 127.0.0.1, one implementation after the other, and
 * writes bench/results/latest.json and latest.md. Exits non-zero only when a scenario crashed; timings are
 * reported, never asserted.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, platform, release, totalmem } from 'node:os';
import { join } from 'node:path';
import type { Child } from './lib/child.ts';
import { updateDocs } from './lib/docs.ts';
import { openFileLimits } from './lib/system.ts';
import { type BenchResults, renderMarkdown, type ScenarioOutcome } from './lib/report.ts';
import { parseOptions } from './options.ts';
import { clusterScenario } from './scenarios/cluster.ts';
import type { BenchContext } from './scenarios/context.ts';
import { durableScenario } from './scenarios/durable.ts';
import { fanoutScenario } from './scenarios/fanout.ts';
import { floodScenario } from './scenarios/flood.ts';
import { httpScenario } from './scenarios/http.ts';
import { memoryScenario } from './scenarios/memory.ts';
import { observabilityScenario } from './scenarios/observability.ts';
import { replayScenario } from './scenarios/replay.ts';
import { scaleScenario } from './scenarios/scale.ts';
import type { Scenario } from './scenarios/scenario.ts';
import { tokensScenario } from './scenarios/tokens.ts';

const BENCH_DIR = join(import.meta.dirname, '..');
const ROOT = join(BENCH_DIR, '..');
const ALL: Scenario[] = [
  fanoutScenario,
  memoryScenario,
  tokensScenario,
  httpScenario,
  replayScenario,
  scaleScenario,
  floodScenario,
  durableScenario,
  clusterScenario,
  observabilityScenario,
];

function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2), BENCH_DIR);
  const started = Date.now();
  const loadBefore = loadavg();
  // The code measured is the code at the start (other work may commit while a long run goes on).
  const commit = gitCommit();
  const profileDir = join(options.outDir, 'tmp', 'profiles');
  await mkdir(profileDir, { recursive: true });
  const log = (message: string): void => {
    process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}\n`);
  };
  log(
    `mode ${options.quick ? 'quick' : 'full'}; scenarios ${options.scenarios.join(', ')}; load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`,
  );

  const outcomes: ScenarioOutcome[] = [];
  for (const scenario of ALL) {
    if (!options.scenarios.includes(scenario.id as never)) continue;
    const children: Child[] = [];
    const context: BenchContext = {
      options,
      profileDir,
      root: ROOT,
      track: (child) => children.push(child),
      log: (message) => log(`${scenario.id}: ${message}`),
    };
    const scenarioStarted = Date.now();
    const stamp = { startedAt: new Date().toISOString(), loadBefore: loadavg(), commit };
    log(`── ${scenario.title}`);
    try {
      const report = await scenario.run(context);
      outcomes.push({
        id: scenario.id,
        title: scenario.title,
        status: 'ok',
        ...stamp,
        loadAfter: loadavg(),
        durationMs: Date.now() - scenarioStarted,
        ...report,
      });
    } catch (error) {
      const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
      log(`${scenario.id} crashed: ${message}`);
      outcomes.push({
        id: scenario.id,
        title: scenario.title,
        status: 'crashed',
        error: message,
        ...stamp,
        loadAfter: loadavg(),
        durationMs: Date.now() - scenarioStarted,
        comparisons: [],
        goals: [],
        notes: [],
        profiles: [],
        data: null,
      });
    } finally {
      // Whatever happened, no process of this scenario survives it.
      await Promise.all(children.map((child) => child.stop(3_000)));
    }
  }

  const cpuList = cpus();
  const previous = options.merge ? await readPrevious(join(options.outDir, 'latest.json')) : undefined;
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      mode: options.quick ? 'quick' : 'full',
      commit,
      node: process.versions.node,
      platform: `${platform()} ${release()}`,
      cpus: cpuList[0]?.model.trim() ?? 'unknown',
      cores: cpuList.length,
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      loadBefore,
      loadAfter: loadavg(),
      openFilesLimit: openFileLimits(),
      durationMs: Date.now() - started,
      options: { ...options, outDir: undefined },
    },
    scenarios: outcomes,
  };
  if (previous) {
    // Keep the earlier run's other scenarios (in scenario order); its meta stays as the run of record.
    const ran = new Set(outcomes.map((o) => o.id));
    const kept = previous.scenarios
      .filter((s) => !ran.has(s.id))
      .map((s) => ({ ...s, commit: s.commit ?? previous.meta.commit }));
    const order = ALL.map((s) => s.id);
    results.scenarios = [...kept, ...outcomes].sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id));
    results.meta = {
      ...previous.meta,
      merged: [
        ...(previous.meta.merged ?? []),
        { date: results.meta.date, commit, scenarios: [...ran], loadBefore, loadAfter: loadavg() },
      ],
    };
  }
  await mkdir(options.outDir, { recursive: true });
  const markdown = renderMarkdown(results);
  await writeFile(join(options.outDir, 'latest.json'), `${JSON.stringify(results, jsonReplacer, 2)}\n`);
  await writeFile(join(options.outDir, 'latest.md'), markdown);
  if (options.updateDocs) await updateDocs(join(ROOT, 'docs', 'performance.md'), markdown);
  process.stdout.write(`${markdown}\n`);
  log(`results written to ${join(options.outDir, 'latest.json')} and latest.md`);
  const crashed = outcomes.filter((o) => o.status === 'crashed');
  if (crashed.length > 0) log(`crashed: ${crashed.map((o) => o.id).join(', ')}`);
  return crashed.length > 0 ? 1 : 0;
}

async function readPrevious(file: string): Promise<BenchResults | undefined> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as BenchResults;
  } catch {
    return undefined;
  }
}

/** Typed arrays (histogram counts) and non-finite numbers do not belong in the JSON file. */
function jsonReplacer(_key: string, value: unknown): unknown {
  if (ArrayBuffer.isView(value)) return undefined;
  if (typeof value === 'number' && !Number.isFinite(value)) return null;
  return value;
}

process.exitCode = await main();
