import { AtmosphereError } from '@atmosphere/runtime';
import type { Availability, Provider, ProviderContext } from '@atmosphere/runtime/spi';
import { loadIoredis, type RedisClientLike } from './connection.ts';
import { RedisBackplane } from './redis-backplane.ts';

/** The environment variable that names the Redis of the cluster. */
export const REDIS_URL_ENV = 'ATMOSPHERE_REDIS_URL';
/** The URL used when neither the options, the settings nor the environment give one. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';
/** The provider's name and priority: above the runtime's `local` backplane (0). */
export const REDIS_BACKPLANE_PROVIDER = Object.freeze({ name: 'redis', priority: 10 });

/** Options of {@link redisBackplane}. Each has a default; see each. */
export interface RedisBackplaneOptions {
  /**
   * The Redis to relay through, `redis://[user:password@]host:port[/db]` or `rediss://` for TLS. Default: the
   * `url` setting (`createAtmosphere({ settings: { 'broadcaster-backplane': { url } } })`), then
   * `ATMOSPHERE_REDIS_URL`, then `redis://127.0.0.1:6379`.
   */
  url?: string;
  /**
   * An existing ioredis client whose settings (host, TLS, credentials, sentinels, retry strategy) the
   * backplane copies with `duplicate()` for its own two connections, instead of `url`. The client itself is
   * never used or closed by the backplane.
   */
  client?: RedisClientLike;
  /**
   * Prefix of every channel (a broadcaster `id` travels on `<prefix><id>`); applications sharing one Redis
   * use different prefixes. Default: the `channelPrefix` setting, then `atmosphere:`.
   */
  channelPrefix?: string;
  /**
   * Largest relay message in bytes (payload, targets and the 19-byte header), published or accepted. A larger
   * broadcast is delivered on its own node only; a larger message from the channel is dropped. Both log a
   * warning. Default 4 MiB.
   */
  maxMessageBytes?: number;
  /**
   * Bytes handed to Redis and not yet acknowledged beyond which new broadcasts are not relayed (with a
   * warning), so that a Redis that stops answering cannot make this node's memory grow. Default 32 MiB.
   */
  maxPendingBytes?: number;
  /** How long `start()` (inside `createAtmosphere()`) waits for Redis before failing. Default 10 000 ms. */
  startTimeoutMs?: number;
  /**
   * Bytes of broadcasts (relay messages) kept while Redis is unreachable and relayed, in order, when it
   * returns. Beyond them a broadcast reaches this node's clients only and is reported to
   * `atmosphere.onRelayFailure` (reason `offline`). 0 keeps none. Default 8 MiB.
   */
  maxBufferedBytes?: number;
  /**
   * When Redis returns, the kept broadcasts wait until as many subscribers as before the outage listen again
   * (the other nodes resubscribe at their own pace), at most this long. Default 5 000 ms.
   */
  flushWaitMs?: number;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** The URL to use and where it came from (for messages). */
function resolveUrl(
  options: RedisBackplaneOptions,
  context: ProviderContext,
): { url: string; source: string } {
  const fromOptions = text(options.url);
  if (fromOptions !== undefined) return { url: fromOptions, source: 'redisBackplane({ url })' };
  const fromSettings = text(context.settings['url']);
  if (fromSettings !== undefined)
    return { url: fromSettings, source: "settings['broadcaster-backplane'].url" };
  const fromEnv = text(context.env[REDIS_URL_ENV]);
  if (fromEnv !== undefined) return { url: fromEnv, source: REDIS_URL_ENV };
  return { url: DEFAULT_REDIS_URL, source: 'the default' };
}

/** Checks the URL's form (not whether Redis answers: that is `start()`'s job). */
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

function connectionOf(
  options: RedisBackplaneOptions,
  context: ProviderContext,
): { readonly url: string } | { readonly client: RedisClientLike } {
  if (options.client !== undefined) {
    if (options.url !== undefined)
      throw new AtmosphereError(
        'INVALID_OPTION',
        'redisBackplane() takes a url or a client to duplicate, not both; drop one of them.',
      );
    return { client: options.client };
  }
  const { url, source } = resolveUrl(options, context);
  const problem = checkRedisUrl(url, source);
  if (problem !== undefined) throw new AtmosphereError('INVALID_OPTION', `${problem}.`);
  return { url };
}

/**
 * The Redis backplane as a provider of kind `broadcaster-backplane` (name `redis`, priority 10, so it wins
 * over the runtime's `local` one): `createAtmosphere({ providers: [redisBackplane({ url })] })`. Every node
 * of the cluster uses the same Redis and `channelPrefix`. `createAtmosphere()` resolves once this node's
 * subscription is active, and rejects when Redis cannot be reached within `startTimeoutMs`.
 */
export function redisBackplane(options: RedisBackplaneOptions = {}): Provider<'broadcaster-backplane'> {
  return {
    kind: 'broadcaster-backplane',
    name: REDIS_BACKPLANE_PROVIDER.name,
    priority: REDIS_BACKPLANE_PROVIDER.priority,
    // Configuration problems surface from create(): the runtime then logs them as an error and says so in
    // describe(), rather than treating a mistyped URL as "no Redis wanted".
    isAvailable: (): Availability => true,
    async create(context): Promise<RedisBackplane> {
      const target = connectionOf(options, context);
      const connection = 'url' in target ? { url: target.url, Redis: await loadIoredis() } : target;
      const config: ConstructorParameters<typeof RedisBackplane>[0] = {
        connection,
        logger: context.logger,
        channelPrefix: options.channelPrefix ?? text(context.settings['channelPrefix']),
        maxMessageBytes: options.maxMessageBytes,
        maxPendingBytes: options.maxPendingBytes,
        startTimeoutMs: options.startTimeoutMs,
        maxBufferedBytes: options.maxBufferedBytes,
        flushWaitMs: options.flushWaitMs,
      };
      return new RedisBackplane(config);
    },
  };
}

/**
 * The provider the `register` entry registers: {@link redisBackplane} with its defaults, available only when
 * `ATMOSPHERE_REDIS_URL` is set (an installed package alone must not make a single node wait for a Redis it
 * was never given). Without the variable the reason names it, and the runtime's startup line shows it.
 */
export function redisBackplaneFromEnvironment(): Provider<'broadcaster-backplane'> {
  const provider = redisBackplane();
  return {
    ...provider,
    isAvailable(context): Availability {
      if (text(context.env[REDIS_URL_ENV]) === undefined)
        return {
          available: false,
          reason: `${REDIS_URL_ENV} is not set; set it (redis://host:6379) to relay broadcasts between nodes, or pass redisBackplane({ url }) in createAtmosphere({ providers })`,
        };
      return true;
    },
  };
}
