import { execFileSync } from 'node:child_process';

/** The open-files limits (`ulimit -Sn`, `ulimit -Hn`) a process started from this one gets. */
export function openFileLimits(): { soft: number; hard: number } {
  const read = (flag: string): number => {
    try {
      const text = execFileSync('/bin/sh', ['-c', `ulimit ${flag}`], { encoding: 'utf8' }).trim();
      return text === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(text);
    } catch {
      return Number.NaN;
    }
  };
  return { soft: read('-Sn'), hard: read('-Hn') };
}
