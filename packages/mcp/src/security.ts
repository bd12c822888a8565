import type { IncomingMessage } from 'node:http';
import type { Logger } from '@atmosphere/runtime';
import { JsonRpcFailure } from './json-rpc.ts';
import type { McpAuth, McpPrincipal, McpRateLimit, McpSecurityOptions } from './options.ts';

/** The anonymous principal: every caller when no `auth` hook is configured. */
export const ANONYMOUS: McpPrincipal = Object.freeze({ id: 'anonymous' });

const LOOPBACK_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);
const DEFAULT_RATE: McpRateLimit = { perSecond: 50, burst: 100 };

/** The security options with their defaults. */
export interface ResolvedSecurity {
  readonly allowedHosts: readonly string[] | undefined;
  readonly allowedOrigins: readonly string[] | undefined;
  readonly allowRemote: boolean;
  readonly maxMessageBytes: number;
  readonly maxJsonDepth: number;
  readonly rateLimit: McpRateLimit | false;
  readonly maxSessions: number;
  readonly sessionIdleMs: number;
}

export function resolveSecurity(options: McpSecurityOptions = {}): ResolvedSecurity {
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback;
    if (!Number.isFinite(value) || value <= 0) {
      throw new TypeError(`mcpServer: \`security.${name}\` must be a positive number; got ${String(value)}.`);
    }
    return value;
  };
  const rate = options.rateLimit === undefined ? DEFAULT_RATE : options.rateLimit;
  if (rate !== false) {
    positive(rate.perSecond, 1, 'rateLimit.perSecond');
    positive(rate.burst, 1, 'rateLimit.burst');
  }
  return {
    allowedHosts: options.allowedHosts?.map((h) => h.toLowerCase()),
    allowedOrigins: options.allowedOrigins?.map((o) => o.toLowerCase().replace(/\/$/, '')),
    allowRemote: options.allowRemote ?? false,
    maxMessageBytes: positive(options.maxMessageBytes, 1024 * 1024, 'maxMessageBytes'),
    maxJsonDepth: positive(options.maxJsonDepth, 64, 'maxJsonDepth'),
    rateLimit: rate,
    maxSessions: positive(options.maxSessions, 1000, 'maxSessions'),
    sessionIdleMs: positive(options.sessionIdleMs, 30 * 60_000, 'sessionIdleMs'),
  };
}

/** True for 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4.startsWith('127.') || address === '::1';
}

/** Splits a `Host` header value into its host name (brackets kept for IPv6) and port. */
function hostName(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end === -1 ? host : host.slice(0, end + 1);
  }
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function isLoopbackOrigin(origin: string): boolean {
  try {
    const url = new URL(origin);
    return (url.protocol === 'http:' || url.protocol === 'https:') && LOOPBACK_HOSTS.has(url.hostname);
  } catch {
    return false;
  }
}

/**
 * The checks every MCP request goes through before the SDK sees it, in order: remote address (loopback
 * only by default), `Host` (DNS rebinding), `Origin`, then the bearer token. Each refusal is a
 * {@link JsonRpcFailure} (status, JSON-RPC code, message); the caller answers it.
 */
export class RequestGuard {
  readonly #security: ResolvedSecurity;
  readonly #auth: McpAuth | undefined;
  readonly #logger: Logger;
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(security: ResolvedSecurity, auth: McpAuth | undefined, logger: Logger) {
    this.#security = security;
    this.#auth = auth;
    this.#logger = logger;
  }

  /** Remote address, `Host`, `Origin`: throws a {@link JsonRpcFailure} (403) when one is refused. */
  checkOrigin(request: IncomingMessage): void {
    const security = this.#security;
    if (!security.allowRemote && !isLoopbackAddress(request.socket.remoteAddress)) {
      throw new JsonRpcFailure(
        403,
        -32000,
        'Forbidden: this MCP endpoint serves loopback clients only (option `security.allowRemote`).',
      );
    }
    const host = request.headers.host?.toLowerCase();
    if (!host || !this.#hostAllowed(host)) {
      throw new JsonRpcFailure(
        403,
        -32000,
        `Forbidden: Host header ${JSON.stringify(host ?? '')} is not allowed (option \`security.allowedHosts\`).`,
      );
    }
    const origin = request.headers.origin;
    if (origin !== undefined && !this.#originAllowed(origin.toLowerCase())) {
      throw new JsonRpcFailure(
        403,
        -32000,
        `Forbidden: Origin ${JSON.stringify(origin)} is not allowed (option \`security.allowedOrigins\`).`,
      );
    }
  }

  #hostAllowed(host: string): boolean {
    const allowed = this.#security.allowedHosts;
    if (!allowed) return LOOPBACK_HOSTS.has(hostName(host));
    return allowed.includes(host) || allowed.includes(hostName(host));
  }

  #originAllowed(origin: string): boolean {
    const allowed = this.#security.allowedOrigins;
    return allowed ? allowed.includes(origin) : isLoopbackOrigin(origin);
  }

  /** The principal of a request: the anonymous one without `auth`, else the verified token's (401 otherwise). */
  async authenticate(request: IncomingMessage): Promise<McpPrincipal> {
    const auth = this.#auth;
    if (!auth) return ANONYMOUS;
    const header = request.headers.authorization;
    const match = header === undefined ? null : /^Bearer[ ]+([^\s]+)\s*$/i.exec(header);
    const challenge = this.#challenge(match ? 'invalid_token' : undefined);
    if (!match?.[1]) {
      throw new JsonRpcFailure(401, -32001, 'Unauthorized: send `Authorization: Bearer <token>`.', {
        'WWW-Authenticate': challenge,
      });
    }
    let principal: McpPrincipal | undefined;
    try {
      principal = await auth.verify(match[1], request);
    } catch (error) {
      this.#logger.warn('mcp: the auth hook threw; the request is refused', { error });
      principal = undefined;
    }
    if (!principal || typeof principal.id !== 'string' || principal.id === '') {
      throw new JsonRpcFailure(401, -32001, 'Unauthorized: the bearer token was refused.', {
        'WWW-Authenticate': challenge,
      });
    }
    return principal;
  }

  #challenge(error: string | undefined): string {
    const auth = this.#auth;
    let value = `Bearer realm="${auth?.realm ?? 'mcp'}"`;
    if (error) value += `, error="${error}"`;
    if (auth?.resourceMetadataUrl) value += `, resource_metadata="${auth.resourceMetadataUrl}"`;
    return value;
  }

  /** Takes one token from the caller's bucket; false when it is empty. */
  take(key: string, now = Date.now()): boolean {
    const rate = this.#security.rateLimit;
    if (rate === false) return true;
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: rate.burst, at: now };
      this.#buckets.set(key, bucket);
    } else {
      bucket.tokens = Math.min(rate.burst, bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond);
      bucket.at = now;
    }
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Like {@link take}, throwing the 429 failure. */
  limit(key: string): void {
    if (!this.take(key)) {
      throw new JsonRpcFailure(
        429,
        -32000,
        'Too many requests: the rate limit of this MCP endpoint was exceeded (option `security.rateLimit`).',
        { 'Retry-After': '1' },
      );
    }
  }

  /** Forgets full buckets (called periodically), so the table does not grow with every caller ever seen. */
  sweep(now = Date.now()): void {
    const rate = this.#security.rateLimit;
    if (rate === false) return;
    for (const [key, bucket] of this.#buckets) {
      if (bucket.tokens + ((now - bucket.at) / 1000) * rate.perSecond >= rate.burst)
        this.#buckets.delete(key);
    }
  }
}

/** The rate-limit key of a caller: its principal, or its remote address when anonymous. */
export function rateKey(principal: McpPrincipal, request: IncomingMessage): string {
  return principal === ANONYMOUS ? `ip:${request.socket.remoteAddress ?? '?'}` : `id:${principal.id}`;
}
