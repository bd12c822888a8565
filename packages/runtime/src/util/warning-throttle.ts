import type { Logger } from '../spi/logger.ts';

/**
 * Keeps a repeated warning from flooding the log: the first of a kind is a warning, the same kind again
 * within `intervalMs` goes to debug and is counted, and the next warning of that kind says how many there
 * were. A flood of garbage on the channel costs a counter, not a log line per message.
 */
export class WarningThrottle {
  readonly #logger: Logger;
  readonly #intervalMs: number;
  readonly #now: () => number;
  readonly #kinds = new Map<string, { at: number; suppressed: number }>();

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
      this.#logger.debug(message);
      return;
    }
    const suppressed = last?.suppressed ?? 0;
    this.#kinds.set(kind, { at: now, suppressed: 0 });
    this.#logger.warn(
      suppressed > 0 ? `${message} (and ${suppressed} more like it since the last warning)` : message,
    );
  }
}
