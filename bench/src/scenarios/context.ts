import type { Child } from '../lib/child.ts';
import type { BenchOptions } from '../options.ts';

/** What every scenario gets from the runner. */
export interface BenchContext {
  readonly options: BenchOptions;
  /** Where `--profile` writes `.cpuprofile` files. */
  readonly profileDir: string;
  /** The repository root (for relative paths in reports). */
  readonly root: string;
  /** Registers a child process so the runner stops it if the scenario fails. */
  track(child: Child): void;
  /** A progress line on stderr. */
  log(message: string): void;
}
