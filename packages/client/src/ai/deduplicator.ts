/**
 * Drops frames already seen, by `(sessionId, seq)`: a frame whose seq is not above the last one of its
 * session is a duplicate (a replay after a reconnect). Remembers the last `capacity` sessions.
 */
export class FrameDeduplicator {
  readonly #last = new Map<string, number>();
  readonly #capacity: number;

  constructor(capacity = 64) {
    this.#capacity = capacity;
  }

  /** True for a frame not seen before (and records it). */
  accept(frame: { readonly sessionId: string; readonly seq: number }): boolean {
    const last = this.#last.get(frame.sessionId);
    if (last !== undefined && frame.seq <= last) return false;
    if (last === undefined && this.#last.size >= this.#capacity) {
      const oldest = this.#last.keys().next().value;
      if (oldest !== undefined) this.#last.delete(oldest);
    }
    this.#last.set(frame.sessionId, frame.seq);
    return true;
  }

  /** The last seq seen for a session. */
  lastSeq(sessionId: string): number | undefined {
    return this.#last.get(sessionId);
  }
}
