import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
  timeDeltas?: number[];
}

/** One function's share of a CPU profile. */
export interface HotFunction {
  /** `file:line function` (file relative to the repository). */
  where: string;
  selfMs: number;
  /** Share of all sampled time, in percent (idle and GC included in the total). */
  selfPercent: number;
}

/** A `.cpuprofile` reduced to what a reader acts on: the top self-time functions. */
export interface ProfileSummary {
  file: string;
  totalMs: number;
  top: HotFunction[];
}

/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`): self time per function (sample time deltas
 * attributed to the sampled node), merged across call sites, sorted, the first `limit` kept. `(idle)`,
 * `(program)` and `(garbage collector)` stay in the list: GC time is a finding too.
 */
export async function summarizeProfile(file: string, root: string, limit = 15): Promise<ProfileSummary> {
  const profile = JSON.parse(await readFile(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) byId.set(node.id, node);
  const selfUs = new Map<number, number>();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < samples.length; i++) {
    const id = samples[i]!;
    // timeDeltas[i] is the time before sample i; attribute the next delta to this sample.
    const delta = deltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  const merged = new Map<string, number>();
  let total = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)?.callFrame;
    if (!frame) continue;
    total += us;
    const url = frame.url.startsWith('file://') ? relative(root, new URL(frame.url).pathname) : frame.url;
    const where = url
      ? `${url}:${frame.lineNumber + 1} ${frame.functionName || '(anonymous)'}`
      : frame.functionName;
    merged.set(where, (merged.get(where) ?? 0) + us);
  }
  const top = [...merged.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([where, us]) => ({ where, selfMs: us / 1000, selfPercent: total > 0 ? (100 * us) / total : 0 }));
  return { file: relative(root, file), totalMs: total / 1000, top };
}
