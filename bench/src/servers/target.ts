/** The servers of the benchmark: Atmosphere and the peers it is measured against. */
export type ServerImpl = 'atmosphere' | 'ws' | 'socketio' | 'raw-http';

/** How a server process is set up (the same knobs for every implementation). */
export interface ServerConfig {
  impl: ServerImpl;
  /**
   * Server→client heartbeat interval (ms): Atmosphere's `heartbeat.intervalMs`, a ws ping sweep for raw
   * ws, Socket.IO's `pingInterval`. 0 = off where the implementation allows it.
   */
  heartbeatMs: number;
  /** Socket.IO: turn on connection state recovery (its replay of missed packets). */
  recovery?: boolean;
  /** Socket.IO: the transports it accepts. Default both. */
  transports?: ('polling' | 'websocket')[];
  /**
   * Raw ws: keep the last `replay` messages and send those after `?since=<n>` to a connecting client (the
   * replay buffer an application would write itself). 0 = off.
   */
  replay?: number;
}

/** What the harness needs from each server implementation. */
export interface ServerTarget {
  readonly port: number;
  /** Clients connected now (as the implementation counts them). */
  connections(): number;
  /** Sends one message to every connected client (the fan-out under test). */
  broadcast(payload: string): void;
  /**
   * Token streaming to the single connected client; resolves with each frame's send time (ms, shared
   * clock) indexed by its `seq`.
   */
  stream?(frames: TokenStream): Promise<number[]>;
  close(): Promise<void>;
}

/** A token-streaming run: `count` frames, back to back (`intervalMs` 0) or paced. */
export interface TokenStream {
  count: number;
  intervalMs: number;
}

/** The path every implementation serves. */
export const BENCH_PATH = '/bench';
