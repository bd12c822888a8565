/*
 * Paint timing reports (PROTOCOL.md §7, telemetry): a client that was asked to (off by default) tells the AI
 * endpoint, for a sample of a run's text frames, how long ago it received each one and how long ago it painted
 * it. Ages, not timestamps: the server reads them against its own clock when the report arrives, so the two
 * clocks never need to agree.
 */

/** Prefix of a paint timing report: `/__timing/<runId> [[seq,receivedAgoMs,paintedAgoMs],…]`. */
export const TIMING_PREFIX = '/__timing/';

/** Most samples one report carries; a longer report is refused whole. */
export const MAX_TIMING_SAMPLES = 32;

/** The longest age a sample may state (ms): older samples are of no use and are refused. */
export const MAX_TIMING_AGE_MS = 120_000;

/** Longest report text (characters); a longer one is refused before it is parsed. */
const MAX_TIMING_MESSAGE = 1024;

const RUN_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** One sampled text frame: its seq, and how long before the report it was received and painted (ms). */
export interface TimingSample {
  readonly seq: number;
  readonly receivedAgoMs: number;
  readonly paintedAgoMs: number;
}

/** A paint timing report read: the run and its samples. */
export interface TimingReport {
  readonly runId: string;
  readonly samples: readonly TimingSample[];
}

/** The report of `samples` of run `runId` (at most {@link MAX_TIMING_SAMPLES}; ages rounded to whole ms). */
export function timingMessage(runId: string, samples: readonly TimingSample[]): string {
  const rows = samples
    .slice(0, MAX_TIMING_SAMPLES)
    .map(
      (sample) => `[${sample.seq},${Math.round(sample.receivedAgoMs)},${Math.round(sample.paintedAgoMs)}]`,
    );
  return `${TIMING_PREFIX}${runId} [${rows.join(',')}]`;
}

/**
 * Reads a paint timing report. A well-formed one is `{ report }`; anything else (too long, a bad run id, not
 * JSON, more than {@link MAX_TIMING_SAMPLES} samples, a seq that is not a positive integer, an age that is
 * negative, not whole, over {@link MAX_TIMING_AGE_MS}, or a paint before the receipt) is `{ reason }`, refused
 * whole: a hostile report changes nothing.
 */
export function parseTimingMessage(
  message: string,
): { readonly report: TimingReport } | { readonly reason: string } {
  if (message.length > MAX_TIMING_MESSAGE) return { reason: 'too long' };
  if (!message.startsWith(TIMING_PREFIX)) return { reason: 'not a timing report' };
  const space = message.indexOf(' ', TIMING_PREFIX.length);
  if (space < 0) return { reason: 'no samples' };
  const runId = message.slice(TIMING_PREFIX.length, space);
  if (!RUN_ID.test(runId)) return { reason: 'bad run id' };
  let rows: unknown;
  try {
    rows = JSON.parse(message.slice(space + 1));
  } catch {
    return { reason: 'samples are not JSON' };
  }
  if (!Array.isArray(rows) || rows.length === 0) return { reason: 'samples are not a non-empty array' };
  if (rows.length > MAX_TIMING_SAMPLES) return { reason: `more than ${MAX_TIMING_SAMPLES} samples` };
  const samples: TimingSample[] = [];
  for (const row of rows) {
    if (!Array.isArray(row) || row.length !== 3)
      return { reason: 'a sample is not [seq, received, painted]' };
    const [seq, received, painted] = row as unknown[];
    if (!Number.isSafeInteger(seq) || (seq as number) < 1)
      return { reason: 'a seq is not a positive integer' };
    if (!isAge(received) || !isAge(painted)) return { reason: 'an age is out of range' };
    if (painted > received) return { reason: 'a frame painted before it was received' };
    samples.push({ seq: seq as number, receivedAgoMs: received, paintedAgoMs: painted });
  }
  return { report: { runId, samples } };
}

function isAge(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 0 && (value as number) <= MAX_TIMING_AGE_MS;
}
