import type { Server } from 'node:http';

/** The servers of the benchmark: Atmosphere and the peers it is measured against. */
export type ServerImpl = 'atmosphere' | 'ws' | 'ws-frame-once' | 'socketio' | 'raw-http';

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
  /**
   * Listen on this port with `SO_REUSEPORT`, beside other processes of the same run (the scale scenario's
   * several processes on one port). Absent = a free port of its own.
   */
  sharedPort?: number;
  /**
   * Atmosphere: relay broadcasts between the processes of the run through Redis (`@atmosphere/redis`) at this
   * URL, under `channelPrefix`. Absent = the local backplane.
   */
  redis?: { url: string; channelPrefix: string };
  /**
   * Atmosphere: the stream log every broadcast is appended to before it is sent — the runtime's memory log
   * (absent), SQLite on a fresh file, or Redis at this URL under `prefix` (`@atmosphere/durable-sessions`).
   */
  log?: { store: 'sqlite'; file: string } | { store: 'redis'; url: string; prefix: string };
  /**
   * Atmosphere: the session store of the clients that ask for a session — SQLite on a fresh file, or Redis at
   * this URL under `prefix` (`@atmosphere/durable-sessions`); absent = the runtime's memory store.
   */
  sessions?: { store: 'sqlite'; file: string } | { store: 'redis'; url: string; prefix: string };
  /** Atmosphere: Prometheus metrics on (`@atmosphere/observability` over a prom-client registry). */
  metrics?: boolean;
  /**
   * Socket.IO: relay between the processes of the run through Redis at `url` — `@socket.io/redis-adapter`
   * (pub/sub) or `@socket.io/redis-streams-adapter` (a Redis stream, its recoverable variant) — under `key`.
   */
  socketIoAdapter?: { kind: 'redis' | 'redis-streams'; url: string; key: string };
  /**
   * Atmosphere: OpenTelemetry tracing on (`@atmosphere/observability`'s `tracing()` over the trace SDK with the
   * async-hooks context manager): `unsampled` drops every trace at the sampler, `sampled` records every span
   * and hands it to a batching processor whose exporter discards it (the OTLP encoding and the network are not
   * counted).
   */
  tracing?: 'unsampled' | 'sampled';
  /** With `tracing`: `tracing({ broadcastSpans })` (default: the provider's, `'in-sampled-trace'`). */
  broadcastSpans?: 'always' | 'in-sampled-trace';
}

/** Listens on 127.0.0.1 as the config says (a free port, or the run's shared port); resolves with the port. */
export async function listenAsConfigured(server: Server, config: ServerConfig): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(
      { port: config.sharedPort ?? 0, host: '127.0.0.1', reusePort: config.sharedPort !== undefined },
      () => {
        server.off('error', reject);
        resolve();
      },
    );
  });
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error(`${config.impl} server has no port`);
  return address.port;
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
  /**
   * Reads the last `count` records of the bench path's stream back from the log, as a resume does: µs for the
   * read, and how many records came back.
   */
  readLog?(count: number): Promise<{ micros: number; records: number }>;
  close(): Promise<void>;
}

/** A token-streaming run: `count` frames, back to back (`intervalMs` 0) or paced. */
export interface TokenStream {
  count: number;
  intervalMs: number;
}

/** The path every implementation serves. */
export const BENCH_PATH = '/bench';
