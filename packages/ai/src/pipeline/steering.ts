import type { StreamingSession } from '../spi/streaming-session.ts';

interface Guidance {
  readonly steerId: string;
  readonly text: string;
}

/**
 * The guidance users send to a running answer (`steer`), waiting for its next step boundary. Each piece is
 * acknowledged on the run's stream by a `steer` event: `accepted` when it arrives, `applied` when the runtime
 * takes it for its next model call, `unused` when the answer completed first ({@link finish}).
 */
export class Steering {
  readonly #session: StreamingSession;
  readonly #pending: Guidance[] = [];

  constructor(session: StreamingSession) {
    this.#session = session;
  }

  /** Pieces waiting for a step boundary. */
  get pending(): number {
    return this.#pending.length;
  }

  /** A piece arrived: kept for the next step boundary, acknowledged with `accepted` (and its text). */
  add(steerId: string, text: string): void {
    this.#pending.push({ steerId, text });
    this.#session.emit({ event: 'steer', data: { steerId, status: 'accepted', text } });
  }

  /** The runtime is at a step boundary: every waiting piece, oldest first, each acknowledged `applied`. */
  take(): readonly string[] {
    const taken = this.#pending.splice(0);
    for (const guidance of taken)
      this.#session.emit({ event: 'steer', data: { steerId: guidance.steerId, status: 'applied' } });
    return taken.map((guidance) => guidance.text);
  }

  /** The answer completed: what no step boundary took is acknowledged `unused` (before the terminal frame). */
  finish(): void {
    for (const guidance of this.#pending.splice(0))
      this.#session.emit({ event: 'steer', data: { steerId: guidance.steerId, status: 'unused' } });
  }
}
