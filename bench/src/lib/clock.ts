/**
 * A wall-clock timestamp in milliseconds with sub-millisecond precision that every process on the machine
 * shares: `performance.timeOrigin` anchors each process's monotonic clock to the same system clock, so a
 * timestamp taken by the server and read by a client process gives a one-way latency.
 */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

/** Resolves after `ms` (for pacing and settling only; never used to wait for a condition). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves on the next turn of the event loop, after pending I/O. */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * Polls `condition` every `everyMs` until it holds or `timeoutMs` passes. Resolves true when it held, false
 * on timeout (the caller reports the shortfall; a benchmark never hangs).
 */
export async function waitFor(condition: () => boolean, timeoutMs: number, everyMs = 5): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) return false;
    await delay(everyMs);
  }
  return true;
}
