import { Redis } from 'ioredis';

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

/** Where the two connections come from: a URL, or a client to duplicate. */
export type ConnectionSource = { readonly url: string } | { readonly client: RedisClientLike };

/** Opens one connection (lazily: nothing happens until `connect()`). */
export function openConnection(
  source: ConnectionSource,
  overrides: ConnectionOverrides,
): RedisConnectionLike {
  if ('client' in source) return source.client.duplicate(overrides);
  return new Redis(source.url, overrides);
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
