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
import { killSeries, percentile } from '../test/crash-series.ts';

const kills = Number(process.argv[2] ?? 100);
const policy = process.argv[3] === 'continue' ? 'continue' : 'close';
const folder = mkdtempSync(join(tmpdir(), 'atmosphere-crash-'));
let failures = 0;

try {
  for (const transport of ['websocket', 'sse', 'long-polling'] as const) {
    const series = await killSeries({ store: join(folder, `${transport}.sqlite`), transport, kills, policy });
    const { restartMs: restart, resumeMs: resume } = series;
    failures += series.lost + series.duplicated + series.mismatched + series.incomplete;
    process.stdout.write(
      `${policy} ${transport.padEnd(12)} kills ${kills}  lost ${series.lost}  duplicated ${series.duplicated} (on the wire ${series.wireDuplicated})  text≠log ${series.mismatched}  ` +
        `ended INTERRUPTED ${series.interrupted}  continued ${series.continued} (not whole ${series.incomplete})  text frames resent from the log ${series.resent}  sessions not resumed ${series.notResumed}  restart (spawn→listening) p50 ${percentile(restart, 50)} ms p99 ${percentile(restart, 99)} ms  ` +
        `listening→first resumed frame p50 ${percentile(resume, 50)} ms p99 ${percentile(resume, 99)} ms (${resume.length} resumes)\n`,
    );
  }
} finally {
  rmSync(folder, { recursive: true, force: true });
}
process.exit(failures === 0 ? 0 : 1);
