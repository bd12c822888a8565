import { AtmosphereError } from '@atmosphere/runtime';

/**
 * The part of an ioredis connection the backplane uses. Structural, so that a client made by another copy
 * or major version of ioredis (5 or 6) fits.
 */
export interface RedisConnectionLike {
  /** ioredis' connection status: `wait`, `connecting`, `connect`, `ready`, `reconnecting`, `close`, `end`. */
  readonly status: string;
  connect(): Promise<void>;
  publish(channel: string, message: Buffer): Promise<number>;
  psubscribe(...patterns: string[]): Promise<unknown>;
  quit(): Promise<unknown>;
  disconnect(reconnect?: boolean): void;
  on(event: 'ready' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  on(
    event: 'pmessageBuffer',
    listener: (pattern: string | Buffer, channel: Buffer, message: Buffer) => void,
  ): unknown;
  removeAllListeners(): unknown;
}

/** The connection settings the backplane imposes on its two connections (ioredis option names). */
export interface ConnectionOverrides {
  lazyConnect: boolean;
  connectionName: string;
  enableOfflineQueue: boolean;
  maxRetriesPerRequest: number | null;
  autoResubscribe: boolean;
  autoResendUnfulfilledCommands: boolean;
}

/**
 * An existing ioredis client (`new Redis({...})`) whose connection settings — host, TLS, credentials,
 * sentinels, retry strategy — the backplane copies with `duplicate()`. The backplane never uses, nor closes,
 * the client itself.
 */
export interface RedisClientLike {
  duplicate(override: ConnectionOverrides): RedisConnectionLike;
}

/** The ioredis `Redis` class (or one shaped like it), for connections made from a URL. */
export type RedisConstructor = new (
  url: string,
  options: ConnectionOverrides & { retryStrategy: (attempt: number) => number },
) => RedisConnectionLike;

/**
 * Where the two connections come from: a URL (with the ioredis class to connect with, see {@link loadIoredis}),
 * or a client to duplicate.
 */
export type ConnectionSource =
  { readonly url: string; readonly Redis: RedisConstructor } | { readonly client: RedisClientLike };

/**
 * Loads ioredis, a peer dependency needed only when the backplane connects from a URL (a client passed in
 * brings its own). Throws `PROVIDER_UNAVAILABLE` saying what to install when it is missing.
 */
export async function loadIoredis(): Promise<RedisConstructor> {
  try {
    const module = (await import('ioredis')) as unknown as { Redis: RedisConstructor };
    return module.Redis;
  } catch (error) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'The Redis backplane connects with ioredis, which is not installed: add it (npm install ioredis), or pass an ioredis client as redisBackplane({ client }).',
      { cause: error },
    );
  }
}

/** Opens one connection (lazily: nothing happens until `connect()`). */
export function openConnection(
  source: ConnectionSource,
  overrides: ConnectionOverrides,
): RedisConnectionLike {
  if ('client' in source) return source.client.duplicate(overrides);
  return new source.Redis(source.url, { ...overrides, retryStrategy: reconnectDelay });
}

/** The longest wait between two reconnection attempts of a connection made from a URL. */
export const MAX_RECONNECT_DELAY_MS = 500;

/**
 * The reconnection backoff of a connection made from a URL: 50 ms more per attempt, at most
 * {@link MAX_RECONNECT_DELAY_MS} (ioredis's default goes up to 2 s, so a node could go on refusing for 2 s
 * after Redis is back). A client passed in keeps its own strategy.
 */
export function reconnectDelay(attempt: number): number {
  return Math.min(attempt * 50, MAX_RECONNECT_DELAY_MS);
}

/**
 * Closes a connection we opened: QUIT when it is up (bounded by `timeoutMs`), then a hard disconnect, which
 * also stops any reconnection in progress.
 */
export async function closeConnection(connection: RedisConnectionLike, timeoutMs: number): Promise<void> {
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
