/**
 * The delay before reconnect attempt `attempt` (0-based): exponential from `baseMs`, capped at `maxMs`,
 * with "equal jitter" — a random point in the upper half — so that clients cut at the same moment do not
 * come back at the same moment. `random` is injectable for tests.
 */
export function reconnectDelay(
  attempt: number,
  baseMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const exponential = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(exponential / 2 + (exponential / 2) * random());
}
