/**
 * Kills a real server process with SIGKILL at random points of streaming AI answers, restarts it on the same
 * port and SQLite file, and reports what the clients (`@atmosphere/client`) ended with: frames lost,
 * duplicated, texts that differ from the log, and the restart-to-resume time (from the new process listening
 * to the first frame it resent). Usage:
 * `pnpm --filter @atmosphere/durable-sessions crash [kills per transport] [close|continue]` (default 100, close).
 * Exits 1 when any frame was lost or duplicated, or (continue) an answer did not end with its whole text.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CrashClient, CrashServer, FULL_TEXT, killDuringAnswer } from '../test/crash-harness.ts';

const kills = Number(process.argv[2] ?? 100);
const policy = process.argv[3] === 'continue' ? 'continue' : 'close';
const folder = mkdtempSync(join(tmpdir(), 'atmosphere-crash-'));
let failures = 0;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

try {
  for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
    const server = await CrashServer.start(join(folder, `${transport}.sqlite`), policy);
    const client = new CrashClient(server.url(), transport);
    let lost = 0;
    let duplicated = 0;
    let wireDuplicated = 0;
    let mismatched = 0;
    let interrupted = 0;
    let continued = 0;
    let incomplete = 0;
    let resent = 0;
    const resume: number[] = [];
    const restart: number[] = [];
    try {
      for (let i = 0; i < kills; i++) {
        const outcome = await killDuringAnswer(
          server,
          client,
          1 + Math.floor(Math.random() * 38),
          `prompt ${i}`,
        );
        lost += outcome.lost;
        duplicated += outcome.duplicated;
        wireDuplicated += outcome.wireDuplicated;
        if (outcome.clientText !== outcome.logText || !FULL_TEXT.startsWith(outcome.clientText)) mismatched++;
        if (outcome.end === 'INTERRUPTED') interrupted++;
        if (outcome.continuedFrom !== undefined) continued++;
        if (policy === 'continue' && (outcome.end !== 'complete' || outcome.clientText !== FULL_TEXT))
          incomplete++;
        resent += outcome.resent;
        if (outcome.resumeMs !== undefined) resume.push(outcome.resumeMs);
        restart.push(outcome.restartMs);
      }
    } finally {
      await client.close();
      await server.close();
    }
    failures += lost + duplicated + mismatched + incomplete;
    process.stdout.write(
      `${policy} ${transport.padEnd(12)} kills ${kills}  lost ${lost}  duplicated ${duplicated} (on the wire ${wireDuplicated})  text≠log ${mismatched}  ` +
        `ended INTERRUPTED ${interrupted}  continued ${continued} (not whole ${incomplete})  text frames resent from the log ${resent}  restart (spawn→listening) p50 ${percentile(restart, 50)} ms p99 ${percentile(restart, 99)} ms  ` +
        `listening→first resumed frame p50 ${percentile(resume, 50)} ms p99 ${percentile(resume, 99)} ms (${resume.length} resumes)\n`,
    );
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
