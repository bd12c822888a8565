import type { Logger } from '../spi/logger.ts';

/**
 * Keeps a repeated warning from flooding the log: the first of a kind is a warning, the same kind again
 * within `intervalMs` goes to debug and is counted, and the next warning of that kind says how many there
 * were. A flood of garbage on the channel costs a counter, not a log line per message. `flush()` (called
 * periodically, and with `force` at shutdown) reports the count of a kind that went quiet, so a burst's
 * count is not held back until the next warning of its kind.
 */
export class WarningThrottle {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { at: number; suppressed: number; last: string }>();

  constructor(logger: Logger, intervalMs = 10_000, now: () => number = Date.now) {
    this.#logger = logger;
    this.#intervalMs = intervalMs;
    this.#now = now;
  }

  warn(kind: string, message: string): void {
    const now = this.#now();
    const last = this.#kinds.get(kind);
    if (last !== undefined && now - last.at < this.#intervalMs) {
      last.suppressed++;
      last.last = message;
      this.#logger.debug(message);
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#kinds.set(kind, { at: now, suppressed: 0, last: '' });
    this.#logger.warn(
      suppressed > 0 ? `${message} (and ${suppressed} more like it since the last warning)` : message,
    );
  }

  /**
   * Logs, for each kind with warnings held back whose interval is over (every kind with `force`), how many
   * there were and the last of them; a kind quiet for a whole interval is forgotten. Cheap: one entry per kind.
   */
  flush(force = false): void {
    const now = this.#now();
    for (const [kind, state] of this.#kinds) {
      if (!force && now - state.at < this.#intervalMs) continue;
      if (state.suppressed === 0) {
        this.#kinds.delete(kind);
        continue;
      }
      this.#logger.warn(`${state.suppressed} more like it since the last warning; the last: ${state.last}`);
      this.#kinds.set(kind, { at: now, suppressed: 0, last: '' });
    }
  }
}
