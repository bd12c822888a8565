import { createHash } from 'node:crypto';
import { AtmosphereError, type Logger } from '@atmosphere/runtime';

/** Arguments of a Redis command as the stores pass them. */
export type RedisArgument = string | Buffer | number;

/**
 * The part of an ioredis client the stores use. Structural, so that a client made by another copy or major
 * version of ioredis (5 or 6) fits.
 */
export interface RedisCommandsLike {
  /** ioredis' connection status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  readonly status: string;
  /** ioredis' socket (absent before it connects, or on other clients): corked while a batch of commands is sent. */
  readonly stream?: { cork(): void; uncork(): void } | undefined;
  evalsha(sha: string, keys: number, ...args: RedisArgument[]): Promise<unknown>;
  evalshaBuffer(sha: string, keys: number, ...args: RedisArgument[]): Promise<unknown>;
  eval(script: string, keys: number, ...args: RedisArgument[]): Promise<unknown>;
  evalBuffer(script: string, keys: number, ...args: RedisArgument[]): Promise<unknown>;
  script(subcommand: 'LOAD', script: string): Promise<unknown>;
  hmget(key: string, ...fields: string[]): Promise<(string | null)[]>;
  get(key: string): Promise<string | null>;
  set(key: string, value: string, mode: 'PXAT', at: number): Promise<unknown>;
  del(...keys: string[]): Promise<number>;
  rpush(key: string, ...values: string[]): Promise<number>;
  ltrim(key: string, start: number, stop: number): Promise<unknown>;
  lrange(key: string, start: number, stop: number): Promise<string[]>;
  pexpire(key: string, ms: number): Promise<number>;
  ping(): Promise<string>;
  config(subcommand: 'GET', parameter: string): Promise<unknown>;
}

/** An ioredis client this package opened and manages. */
export interface RedisConnectionLike extends RedisCommandsLike {
  connect(): Promise<void>;
  info(): Promise<string>;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(event: 'ready' | 'close', listener: () => void): unknown;
}

/** The ioredis `Redis` class (or one shaped like it). */
export type RedisConstructor = new (url: string, options: Record<string, unknown>) => RedisConnectionLike;

/**
 * Loads ioredis, a peer dependency needed only by the Redis stores. Throws `PROVIDER_UNAVAILABLE` saying what
 * to install when it is missing.
 */
export async function loadIoredis(): Promise<RedisConstructor> {
  try {
    const module = (await import('ioredis')) as unknown as { Redis: RedisConstructor };
    return module.Redis;
  } catch (error) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'The Redis stores of @atmosphere/durable-sessions connect with ioredis, which is not installed: add it (npm install ioredis), or pass an ioredis client as { client }.',
      { cause: error },
    );
  }
}

/** A URL with its password masked, for log lines and error messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return '(an unparseable URL)';
  }
}

/** Checks the URL's form; returns the problem in words, or undefined. */
export function checkRedisUrl(url: string, source: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `${source} is not a URL; expected redis://host:6379 or rediss://host:6380`;
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:')
    return `${source} must be a redis:// or rediss:// URL; got ${parsed.protocol}//…`;
  return undefined;
}

/**
 * Opens a connection to `url` and waits until Redis answers PING, for at most `timeoutMs`. Commands made
 * while Redis is away fail at once (no offline queue: nothing piles up in memory, every caller hears of
 * it); ioredis reconnects in the background. Throws `PROVIDER_FAILED` naming the URL (password masked),
 * where it came from and the fix when Redis cannot be reached in time.
 */
export async function connectRedis(
  Redis: RedisConstructor,
  url: string,
  options: {
    source: string;
    purpose: string;
    timeoutMs: number;
    logger?: Logger | undefined;
    /**
     * ioredis's auto-pipelining (default on): commands of a turn go out together at its end. A caller that
     * batches its own commands turns it off: ioredis holds every command behind the replies of the batch it
     * sent before, so batches would wait for each other's round trips.
     */
    autoPipelining?: boolean;
  },
): Promise<RedisConnectionLike> {
  const problem = checkRedisUrl(url, options.source);
  if (problem !== undefined) throw new AtmosphereError('INVALID_OPTION', `${problem}.`);
  const connection = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    enableAutoPipelining: options.autoPipelining ?? true,
    maxRetriesPerRequest: 1,
    connectionName: `atmosphere-${options.purpose.replace(/\W+/g, '-')}`,
    connectTimeout: options.timeoutMs,
    // 50 ms more per attempt, at most 500 ms (ioredis's default goes up to 2 s, during which every append
    // after Redis is back would still be refused).
    retryStrategy: (attempt: number) => Math.min(attempt * 50, 500),
  });
  let lastError: Error | undefined;
  let reported = false;
  connection.on('error', (error) => {
    lastError = error;
    if (reported) return;
    reported = true;
    options.logger?.warn(
      `${options.purpose}: Redis ${redactUrl(url)} is unreachable (${error.message}); reconnecting`,
    );
  });
  connection.on('ready', () => (reported = false));
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      connection.connect().then(() => connection.ping()),
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`no answer within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      }),
    ]);
  } catch (error) {
    connection.disconnect();
    const cause = lastError ?? (error as Error);
    throw new AtmosphereError(
      'PROVIDER_FAILED',
      `The ${options.purpose} could not reach Redis at ${redactUrl(url)} (from ${options.source}): ${cause.message}. ` +
        `Start Redis there, or correct ${options.source}; unset it to keep the state in this process only.`,
      { cause },
    );
  } finally {
    clearTimeout(timer);
  }
  // A Redis that refuses INFO (an ACL) is taken as it is.
  const info = await connection.info().catch(() => '');
  const unfit = unfitRedis(info);
  if (unfit !== undefined) {
    connection.disconnect();
    throw new AtmosphereError(
      'PROVIDER_FAILED',
      `The ${options.purpose} cannot use Redis at ${redactUrl(url)} (from ${options.source}): ${unfit} ` +
        `Point ${options.source} at a standalone Redis primary (with replicas, or one managed by Sentinel).`,
    );
  }
  const evicting = evictionPolicy(info);
  if (evicting !== undefined)
    options.logger?.warn(
      `${options.purpose}: Redis ${redactUrl(url)} may evict keys when it is full (maxmemory ${evicting.maxmemory} bytes, ` +
        `maxmemory-policy ${evicting.policy}): an evicted stream or session is lost (clients are told: a reset, a ` +
        'refused session), not kept. Set maxmemory-policy noeviction on it, or give it room: full, it then refuses writes ' +
        'and every caller is told.',
    );
  return connection;
}

/** The eviction a Redis with `info` (`INFO`) may do when full, or undefined when it never evicts. */
export function evictionPolicy(info: string): { maxmemory: number; policy: string } | undefined {
  const maxmemory = Number(/^maxmemory:(\d+)/m.exec(info)?.[1] ?? 0);
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (maxmemory === 0 || policy === undefined || policy === 'noeviction') return undefined;
  return { maxmemory, policy };
}

/**
 * Why the Redis that answered `INFO` with `info` cannot hold the durable stores, or undefined when it can: a Redis
 * in cluster mode, or a replica.
 */
export function unfitRedis(info: string): string | undefined {
  if (/^cluster_enabled:1\b/m.test(info))
    return (
      "it runs in cluster mode (cluster_enabled:1). The durable stores keep each stream's, session's or " +
      "conversation's keys in one Redis and number records in Lua scripts over several keys, which a Redis " +
      'Cluster spreads over hash slots.'
    );
  if (/^role:slave\b/m.test(info))
    return (
      'it is a replica (role:slave): a replica refuses writes, or keeps them from its primary and loses them at ' +
      'the next sync.'
    );
  return undefined;
}

/** Closes a connection this package opened: QUIT when it is up (bounded), then a hard disconnect. */
export async function closeRedis(connection: RedisConnectionLike, timeoutMs = 1_000): Promise<void> {
  if (connection.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      connection.quit().catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    clearTimeout(timer);
  }
  if (connection.status !== 'end') connection.disconnect();
}

/** A script's standing on one connection. */
interface ScriptState {
  /** Redis is known to hold the script (a call of it answered since the connection was last ready). */
  loaded: boolean;
  /** Calls made so far, to re-send those that met NOSCRIPT in the order they were made. */
  next: number;
  /** Set while the script is loaded again after NOSCRIPT: calls wait here and are sent in order after. */
  waiting: { readonly order: number; readonly send: () => void }[] | undefined;
}

function isNoScript(error: unknown): boolean {
  return String((error as Error)?.message).startsWith('NOSCRIPT');
}

/**
 * A Lua script run by its SHA1. Until Redis is known to hold it on a connection — its first calls, and the
 * first after each reconnection (a restarted Redis forgot it) — it is sent whole (EVAL, which also loads it),
 * so a call never meets NOSCRIPT there and calls made one after the other run in that order, whatever other
 * connections do meanwhile. Then by SHA1 (EVALSHA). A NOSCRIPT all the same (SCRIPT FLUSH on a live
 * connection) loads it again and re-sends every call that met it, with those made meanwhile, in the order they
 * were made: a retry never lets a later call overtake an earlier one (appends of a stream keep their order).
 */
export class RedisScript {
  readonly sha: string;
  readonly source: string;
  readonly #states = new WeakMap<RedisCommandsLike, ScriptState>();

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** Runs the script; `buffers` asks for bulk replies as Buffers (binary payloads). */
  async run(
    redis: RedisCommandsLike,
    keys: readonly string[],
    args: readonly RedisArgument[],
    buffers = false,
  ): Promise<unknown> {
    const state = this.#stateOf(redis);
    const order = state.next++;
    if (state.waiting !== undefined) return this.#later(redis, state, order, keys, args, buffers);
    try {
      return await this.#send(redis, state, keys, args, buffers);
    } catch (error) {
      if (!isNoScript(error)) throw error;
      state.loaded = false;
      return this.#later(redis, state, order, keys, args, buffers);
    }
  }

  #stateOf(redis: RedisCommandsLike): ScriptState {
    let state = this.#states.get(redis);
    if (state === undefined) {
      const created: ScriptState = { loaded: false, next: 0, waiting: undefined };
      state = created;
      this.#states.set(redis, created);
      // A reconnection may be to a Redis that restarted and forgot the script.
      const events = redis as Partial<Pick<RedisConnectionLike, 'on'>>;
      if (typeof events.on === 'function')
        events.on.call(redis, 'ready', () => {
          created.loaded = false;
        });
    }
    return state;
  }

  #send(
    redis: RedisCommandsLike,
    state: ScriptState,
    keys: readonly string[],
    args: readonly RedisArgument[],
    buffers: boolean,
  ): Promise<unknown> {
    if (state.loaded)
      return buffers
        ? redis.evalshaBuffer(this.sha, keys.length, ...keys, ...args)
        : redis.evalsha(this.sha, keys.length, ...keys, ...args);
    const reply = buffers
      ? redis.evalBuffer(this.source, keys.length, ...keys, ...args)
      : redis.eval(this.source, keys.length, ...keys, ...args);
    return reply.then((value) => {
      state.loaded = true;
      return value;
    });
  }

  /** Sends the call once the script is loaded again, after every call made before it that waits too. */
  #later(
    redis: RedisCommandsLike,
    state: ScriptState,
    order: number,
    keys: readonly string[],
    args: readonly RedisArgument[],
    buffers: boolean,
  ): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const waiting = (state.waiting ??= this.#reload(redis, state));
      waiting.push({
        order,
        send: () => {
          this.#send(redis, state, keys, args, buffers).then(resolve, reject);
        },
      });
    });
  }

  /**
   * Loads the script again; once Redis answered (every call sent before the load has had its answer by then,
   * one connection answers in order) and the callers of those calls have queued their retries, sends them
   * all, oldest first. When the load fails, they are sent whole (EVAL) and fail or succeed on their own.
   */
  #reload(redis: RedisCommandsLike, state: ScriptState): ScriptState['waiting'] & object {
    const waiting: { readonly order: number; readonly send: () => void }[] = [];
    const release = (loaded: boolean): void => {
      setImmediate(() => {
        state.loaded = loaded;
        state.waiting = undefined;
        waiting.sort((x, y) => x.order - y.order);
        for (const call of waiting) call.send();
      });
    };
    redis.script('LOAD', this.source).then(
      () => release(true),
      () => release(false),
    );
    return waiting;
  }
}
