/** What the keepalive needs from its connection. */
export interface KeepaliveTarget {
  /** Sends the client heartbeat (the padding char). */
  sendHeartbeat(): void;
  /** When data last arrived (ms since epoch). */
  lastDataAt(): number;
  /** No data for `timeoutMs`: the connection is dead. */
  timedOut(timeoutMs: number): void;
}

/**
 * The timers of one open connection: the client heartbeat the handshake asked for, and the inactivity
 * timeout (`timeout`). The inactivity timer is re-armed lazily when it fires — no timer churn per message.
 */
export class Keepalive {
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #idle: ReturnType<typeof setTimeout> | undefined;

  /** Starts both timers (a 0 interval or timeout disables that one). Stops earlier ones first. */
  start(target: KeepaliveTarget, heartbeatMs: number, timeoutMs: number): void {
    this.stop();
    if (heartbeatMs > 0) this.#heartbeat = setInterval(() => target.sendHeartbeat(), heartbeatMs);
    if (timeoutMs > 0) this.#armIdle(target, timeoutMs);
  }

  stop(): void {
    if (this.#heartbeat !== undefined) clearInterval(this.#heartbeat);
    if (this.#idle !== undefined) clearTimeout(this.#idle);
    this.#heartbeat = undefined;
    this.#idle = undefined;
  }

  #armIdle(target: KeepaliveTarget, timeoutMs: number): void {
    this.#idle = setTimeout(
      () => {
        this.#idle = undefined;
        if (Date.now() - target.lastDataAt() < timeoutMs) this.#armIdle(target, timeoutMs);
        else target.timedOut(timeoutMs);
      },
      Math.max(0, target.lastDataAt() + timeoutMs - Date.now()),
    );
  }
}
