import type { Logger } from '@atmosphere/runtime';
import type { ConnectionSource } from './connection.ts';

/** Defaults of {@link RedisBackplaneConfig}. */
export const REDIS_BACKPLANE_DEFAULTS = Object.freeze({
  channelPrefix: 'atmosphere:',
  maxMessageBytes: 4 * 1024 * 1024,
  maxPendingBytes: 32 * 1024 * 1024,
  startTimeoutMs: 10_000,
  maxBufferedBytes: 8 * 1024 * 1024,
  flushWaitMs: 5_000,
});

/** How a `RedisBackplane` is set up (the resolved form of `redisBackplane()`'s options). */
export interface RedisBackplaneConfig {
  /** A `redis://` / `rediss://` URL, or an ioredis client whose settings are copied with `duplicate()`. */
  readonly connection: ConnectionSource;
  /** Prefix of every channel: a broadcaster `id` travels on `<prefix><id>`. Default `atmosphere:`. */
  readonly channelPrefix?: string | undefined;
  /** Largest relay message (header included) published or accepted; larger ones are dropped with a warning. */
  readonly maxMessageBytes?: number | undefined;
  /** Bytes published and not yet acknowledged by Redis beyond which new broadcasts are not relayed. */
  readonly maxPendingBytes?: number | undefined;
  /**
   * Bytes of broadcasts kept while Redis is unreachable, relayed in order when it returns; beyond them a
   * broadcast is not relayed and is reported (`relayFailed`, reason `offline`). 0 keeps none.
   */
  readonly maxBufferedBytes?: number | undefined;
  /**
   * After a reconnection, how long the buffered broadcasts wait for the other nodes to subscribe again
   * (as many subscribers as before the outage) before they are relayed anyway.
   */
  readonly flushWaitMs?: number | undefined;
  /** How long `start()` waits for both connections and the subscription. */
  readonly startTimeoutMs?: number | undefined;
  readonly logger?: Logger | undefined;
}

/** Counters of one backplane instance, since it was created. */
export interface RedisBackplaneStats {
  /** The publishing connection is up and the subscription is active. */
  readonly connected: boolean;
  /**
   * Broadcasts go straight to Redis: connected, and — after an outage — once the other nodes listen again and
   * what was kept meanwhile has been relayed. Until then a broadcast is kept (or, past `maxBufferedBytes`,
   * reported as not relayed).
   */
  readonly relaying: boolean;
  /** Broadcasts handed to Redis. */
  readonly published: number;
  /** Broadcasts kept while Redis is unreachable, waiting to be relayed when it returns. */
  readonly buffered: number;
  /** Messages from other nodes handed to the runtime. */
  readonly received: number;
  /** Broadcasts of this node that were not relayed, by reason. */
  readonly notRelayed: {
    /** Redis was unreachable and the buffer (`maxBufferedBytes`) was full. */
    readonly offline: number;
    /** Larger than `maxMessageBytes`. */
    readonly tooLarge: number;
    /** `maxPendingBytes` were waiting for Redis already. */
    readonly backlog: number;
    /** Redis refused the publish or the connection broke while it was on its way. */
    readonly failed: number;
  };
  /** Messages from the channel that were dropped, by reason. */
  readonly refused: {
    /** Larger than `maxMessageBytes`. */
    readonly tooLarge: number;
    /** Not a relay message of a format this node reads. */
    readonly malformed: number;
  };
}
