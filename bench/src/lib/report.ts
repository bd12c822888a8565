import type { ProfileSummary } from './cpu-profile.ts';

/** One metric measured for each implementation of a comparison. */
export interface ComparisonRow {
  metric: string;
  unit: string;
  /** One value per column; null = not measured (crashed, or not applicable). */
  values: (number | null)[];
  digits?: number;
  /** Show ratios against the baseline column (default true). */
  ratio?: boolean;
}

/** Implementations side by side for one configuration, with ratios against the baseline. */
export interface Comparison {
  title: string;
  columns: string[];
  /** Index of the column the ratios divide by (the raw peer). */
  baseline: number;
  rows: ComparisonRow[];
  notes?: string[];
}

/** A product goal checked against this run. */
export interface Goal {
  description: string;
  /** The measured value, formatted. */
  actual: string;
  /** True/false when measured; null when the run could not tell. */
  met: boolean | null;
}

export interface ScenarioOutcome {
  id: string;
  title: string;
  status: 'ok' | 'crashed';
  error?: string;
  /** When it started (ISO), and the 1/5/15-minute load averages before and after it. */
  startedAt?: string;
  loadBefore?: number[];
  loadAfter?: number[];
  /** Set when the scenario comes from an earlier run kept by `--merge`. */
  commit?: string;
  durationMs: number;
  comparisons: Comparison[];
  goals: Goal[];
  notes: string[];
  profiles: ProfileSummary[];
  details?: string[];
  /** Everything measured, for the JSON file. */
  data: unknown;
}

export interface RunMeta {
  date: string;
  mode: 'quick' | 'full';
  commit: string;
  node: string;
  platform: string;
  cpus: string;
  cores: number;
  memoryGiB: number;
  loadBefore: number[];
  loadAfter: number[];
  openFilesLimit: { soft: number; hard: number };
  durationMs: number;
  options: Record<string, unknown>;
  /** Scenarios re-run later with `--merge`, and when. */
  merged?: { date: string; commit: string; scenarios: string[]; loadBefore: number[]; loadAfter: number[] }[];
}

export interface BenchResults {
  meta: RunMeta;
  scenarios: ScenarioOutcome[];
}

/** Formats a number for a table: thousands separated, `digits` decimals, `–` for missing. */
export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function formatRatio(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return `${value.toFixed(2)}×`;
}

/** `a / b` when both are numbers, else null. */
export function ratioOf(a: number | null | undefined, b: number | null | undefined): number | null {
  if (
    a === null ||
    a === undefined ||
    b === null ||
    b === undefined ||
    b === 0 ||
    !Number.isFinite(a) ||
    !Number.isFinite(b)
  )
    return null;
  return a / b;
}

/** A comparison as a markdown table: values per implementation, then each one ÷ the baseline. */
export function comparisonTable(comparison: Comparison): string {
  const base = comparison.columns[comparison.baseline] ?? '';
  const others = comparison.columns
    .map((name, i) => ({ name, i }))
    .filter(({ i }) => i !== comparison.baseline);
  const header = ['Metric', ...comparison.columns, ...others.map(({ name }) => `${name} ÷ ${base}`)];
  const lines = [
    `| ${header.join(' | ')} |`,
    `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`,
  ];
  for (const row of comparison.rows) {
    const cells = [
      `${row.metric}${row.unit ? ` (${row.unit})` : ''}`,
      ...row.values.map((v) => formatNumber(v, row.digits ?? 0)),
      ...others.map(({ i }) =>
        row.ratio === false ? '' : formatRatio(ratioOf(row.values[i], row.values[comparison.baseline])),
      ),
    ];
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}

/** The whole run as markdown: context, goals, one section per scenario. */
export function renderMarkdown(results: BenchResults): string {
  const { meta } = results;
  const out: string[] = [];
  out.push(`# Benchmark results (${meta.mode})`, '');
  out.push(
    `${meta.date} · commit \`${meta.commit}\` · Node ${meta.node} · ${meta.platform} · ${meta.cores} × ${meta.cpus} · ${meta.memoryGiB} GiB · ` +
      `open files ${meta.openFilesLimit.soft}/${meta.openFilesLimit.hard} · load average before ${meta.loadBefore.map((l) => l.toFixed(2)).join(' ')}, ` +
      `after ${meta.loadAfter.map((l) => l.toFixed(2)).join(' ')} · ${(meta.durationMs / 1000).toFixed(0)} s`,
    '',
  );
  for (const merge of meta.merged ?? []) {
    out.push(
      `Re-run on ${merge.date.slice(0, 16).replace('T', ' ')} UTC (commit \`${merge.commit}\`, load average ${merge.loadBefore[0]?.toFixed(2)} → ${merge.loadAfter[0]?.toFixed(2)}): ${merge.scenarios.join(', ')}.`,
      '',
    );
  }
  if (meta.mode === 'quick') {
    out.push(
      '> Quick mode: small sizes and one short round per comparison. A smoke check, too noisy to compare.',
      '',
    );
  }
  const busy = Math.max(...meta.loadBefore.slice(0, 1), ...meta.loadAfter.slice(0, 1));
  if (busy > 0.5) {
    out.push(
      `> The machine was shared: the 1-minute load average was ${busy.toFixed(2)} on ${meta.cores} cores around this run, so absolute numbers are ` +
        'lower than on an idle machine. Ratios compare implementations measured in the same run, one after the other.',
      '',
    );
  }
  const goals = results.scenarios.flatMap((s) => s.goals);
  if (goals.length > 0) {
    out.push('## Goals', '', '| Goal | This run | Met |', '|---|---:|:---:|');
    for (const goal of goals)
      out.push(
        `| ${goal.description} | ${goal.actual} | ${goal.met === null ? '?' : goal.met ? 'yes' : 'no'} |`,
      );
    out.push('');
  }
  for (const scenario of results.scenarios) {
    out.push(`## ${scenario.title}`, '');
    if (scenario.startedAt !== undefined) {
      const commitNote =
        scenario.commit && scenario.commit !== meta.commit ? `, commit \`${scenario.commit}\`` : '';
      const load = `${scenario.loadBefore?.[0]?.toFixed(2) ?? '?'} → ${scenario.loadAfter?.[0]?.toFixed(2) ?? '?'}`;
      out.push(
        `_${scenario.startedAt.slice(0, 16).replace('T', ' ')} UTC${commitNote}, ${(scenario.durationMs / 1000).toFixed(0)} s, load average ${load}_`,
        '',
      );
    }
    if (scenario.status === 'crashed')
      out.push(`**Crashed:** \`${(scenario.error ?? '').split('\n')[0]}\``, '');
    for (const comparison of scenario.comparisons) {
      out.push(`### ${comparison.title}`, '', comparisonTable(comparison), '');
      for (const note of comparison.notes ?? []) out.push(`- ${note}`);
      if ((comparison.notes ?? []).length > 0) out.push('');
    }
    for (const note of scenario.notes) out.push(`- ${note}`);
    if (scenario.notes.length > 0) out.push('');
    for (const detail of scenario.details ?? []) out.push(detail, '');
    for (const profile of scenario.profiles) {
      out.push(
        `<details><summary>CPU profile ${profile.file} (top self time of ${formatNumber(profile.totalMs)} ms)</summary>`,
        '',
      );
      out.push('| Self % | Self ms | Function |', '|---:|---:|---|');
      for (const f of profile.top)
        out.push(`| ${f.selfPercent.toFixed(1)} | ${formatNumber(f.selfMs)} | \`${f.where}\` |`);
      out.push('', '</details>', '');
    }
  }
  return out.join('\n');
}
