import { AtmosphereError } from '../errors.ts';
import type { AtmosphereInterceptor } from '../spi/interceptor.ts';
import type { AtmosphereResource } from '../spi/resource.ts';

export interface RateLimitOptions {
  /** Sustained inbound messages per second per connection. Default 100. */
  messagesPerSecond?: number;
  /** Messages allowed in a burst above the rate. Default 200. */
  burst?: number;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per connection. Past it: HTTP posts get 429 with `Retry-After`; a WebSocket is closed
 * with 1008 (policy violation).
 */
export function rateLimitInterceptor(options: RateLimitOptions = {}): AtmosphereInterceptor {
  const rate = options.messagesPerSecond ?? 100;
  const burst = options.burst ?? 200;
  if (!(rate > 0) || !(burst >= 1)) {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `rateLimit needs messagesPerSecond > 0 and burst >= 1; got ${rate} and ${burst}.`,
    );
  }
  const buckets = new WeakMap<AtmosphereResource, Bucket>();
  return {
    name: 'rate-limit',
    onInbound(message, resource) {
      const now = performance.now();
      let bucket = buckets.get(resource);
      if (!bucket) {
        bucket = { tokens: burst, at: now };
        buckets.set(resource, bucket);
      } else {
        bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
        bucket.at = now;
      }
      if (bucket.tokens < 1) {
        const retryAfter = Math.max(1, Math.ceil((1 - bucket.tokens) / rate));
        throw new AtmosphereError(
          'RATE_LIMITED',
          `More than ${rate} messages per second (burst ${burst}) from this connection (option \`rateLimit\`).`,
          { status: 429, headers: { 'Retry-After': String(retryAfter) } },
        );
      }
      bucket.tokens -= 1;
      return message;
    },
  };
}
