import type { IncomingMessage } from 'node:http';
import { AtmosphereHeaders } from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';

/**
 * Which browser origins may connect. Default (`'same-origin'`): only pages served from the same host as the
 * Atmosphere endpoint. A list names exact origins (`https://app.example.com`); `'*'` allows any origin
 * (not recommended: any web page could then open a connection with the visitor's cookies). A function
 * decides per request. Requests without an `Origin` header (non-browser clients) are always allowed.
 */
export type OriginPolicy =
  'same-origin' | '*' | readonly string[] | ((origin: string, request: IncomingMessage) => boolean);

export const EXPOSED_HEADERS = [
  AtmosphereHeaders.trackingId,
  AtmosphereHeaders.heartbeatServer,
  AtmosphereHeaders.firstRequest,
  AtmosphereHeaders.sessionToken,
  AtmosphereHeaders.runId,
  AtmosphereHeaders.error,
].join(', ');

export const ALLOWED_REQUEST_HEADERS = [
  'Content-Type',
  'Authorization',
  AtmosphereHeaders.trackingId,
  AtmosphereHeaders.transport,
  AtmosphereHeaders.framework,
  AtmosphereHeaders.protocol,
  AtmosphereHeaders.trackMessageSize,
  AtmosphereHeaders.heartbeatServer,
  AtmosphereHeaders.auth,
  AtmosphereHeaders.sessionToken,
  AtmosphereHeaders.runId,
  AtmosphereHeaders.lastSeq,
  AtmosphereHeaders.received,
  AtmosphereHeaders.postBody,
].join(', ');

/**
 * An `Origin` header in its normalised form (`scheme://host[:port]`, lower case, default port dropped, IPv6
 * compressed, IDN as punycode), or undefined when it is not an origin a page could have: `null`, a scheme other
 * than http(s) (`file:`…), userinfo, a path, query or fragment, a host with a trailing dot (another site).
 */
export function normalizeOrigin(origin: string): string | undefined {
  return remembered(ORIGINS, origin, parseOrigin);
}

/**
 * The last values normalised, with their result (`null`: not one): every request of a browser carries the
 * same `Origin` and `Host`, and parsing one builds a URL. Bounded: past `REMEMBERED` entries it starts over,
 * so hostile values cost what they did without it.
 */
const ORIGINS = new Map<string, string | null>();
const HOSTS = new Map<string, string | null>();
const REMEMBERED = 256;

function remembered(
  memory: Map<string, string | null>,
  value: string,
  parse: (value: string) => string | undefined,
): string | undefined {
  let result = memory.get(value);
  if (result === undefined) {
    if (memory.size >= REMEMBERED) memory.clear();
    result = parse(value) ?? null;
    memory.set(value, result);
  }
  return result ?? undefined;
}

function parseOrigin(origin: string): string | undefined {
  const match = /^(https?):\/\/([^/?#@\s\\]+)$/i.exec(origin);
  if (!match) return undefined;
  const host = match[2]!;
  if (/\.(?::\d*)?$/.test(host)) return undefined;
  try {
    const url = new URL(`${match[1]!.toLowerCase()}://${host}`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/') return undefined;
    return `${url.protocol}//${url.host}`;
  } catch {
    return undefined;
  }
}

/** A `Host` header (or an allowed-hosts entry) normalised as a URL host, or undefined when it is not one. */
export function normalizeHost(host: string, defaultPort = ''): string | undefined {
  return defaultPort === '' ? remembered(HOSTS, host, parseHost) : parseHost(host, defaultPort);
}

function parseHost(host: string, defaultPort = ''): string | undefined {
  if (!/^[^/?#@\s\\]+$/.test(host) || /\.(?::\d*)?$/.test(host)) return undefined;
  try {
    const url = new URL(`http://${host}`);
    if (url.username !== '' || url.password !== '' || url.pathname !== '/') return undefined;
    return url.port === '' && defaultPort !== '' ? `${url.hostname}:${defaultPort}` : url.host;
  } catch {
    return undefined;
  }
}

const LOOPBACK_ADDRESSES = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1', 'localhost']);

/** Where the server listens, as the guard needs it. */
export interface ListeningAddress {
  readonly address: string;
  readonly port: number;
}

/** Which `Host` headers and which origins reach the server (`createAtmosphere` options). */
export interface RequestGuardOptions {
  /** Which browser origins may connect. Default `'same-origin'`. */
  readonly origins?: OriginPolicy;
  /**
   * `Host` header values the server answers (`example.com`, `example.com:8443`; an entry without a port matches
   * any port), or `'*'`. Default: on a loopback address, the loopback names on the server's port (`localhost`,
   * `127.0.0.1`, `[::1]`), which is what stops a DNS-rebinding page; elsewhere the hosts of `publicOrigins`
   * when given, else any.
   */
  readonly allowedHosts?: readonly string[] | '*';
  /** The origins the application is served from (`https://chat.example.com`), e.g. behind a TLS proxy. */
  readonly publicOrigins?: readonly string[];
}

/**
 * Decides whether a request may reach an Atmosphere path: its `Host` must be an allowed host (every request,
 * with or without `Origin`: a rebinding page's same-origin GET sends none), and a browser's `Origin` must be
 * allowed by the policy. Same-origin means the normalised `Origin` equals one of `publicOrigins` when they are
 * named, else the request's own scheme and its (allowed) `Host` — scheme, host and port exactly.
 */
export class RequestGuard {
  readonly policy: OriginPolicy;
  readonly #allowedHosts: readonly string[] | '*' | undefined;
  readonly #publicOrigins: ReadonlySet<string>;
  readonly #listening: () => ListeningAddress | undefined;

  constructor(options: RequestGuardOptions, listening: () => ListeningAddress | undefined) {
    this.policy = options.origins ?? 'same-origin';
    this.#listening = listening;
    const origins = new Set<string>();
    for (const origin of options.publicOrigins ?? []) {
      const normalised = normalizeOrigin(origin);
      if (normalised === undefined) {
        throw new AtmosphereError(
          'INVALID_OPTION',
          `publicOrigins: ${JSON.stringify(origin)} is not an origin; write scheme://host[:port] (https://chat.example.com).`,
        );
      }
      origins.add(normalised);
    }
    this.#publicOrigins = origins;
    if (options.allowedHosts === undefined || options.allowedHosts === '*') {
      this.#allowedHosts = options.allowedHosts;
    } else {
      this.#allowedHosts = options.allowedHosts.map((host) => {
        const normalised = normalizeHost(host);
        if (normalised === undefined) {
          throw new AtmosphereError(
            'INVALID_OPTION',
            `allowedHosts: ${JSON.stringify(host)} is not a host; write host or host:port (chat.example.com).`,
          );
        }
        return normalised;
      });
    }
  }

  /** The allowed hosts in force now: the option, else the default for where the server listens. */
  hosts(): readonly string[] | '*' {
    if (this.#allowedHosts !== undefined) return this.#allowedHosts;
    const listening = this.#listening();
    if (listening && LOOPBACK_ADDRESSES.has(listening.address)) {
      // Asked on every request: made once per port.
      const port = listening.port;
      if (this.#loopbackHosts === undefined || this.#loopbackPort !== port) {
        this.#loopbackPort = port;
        this.#loopbackHosts = [`localhost:${port}`, `127.0.0.1:${port}`, `[::1]:${port}`];
      }
      return this.#loopbackHosts;
    }
    if (this.#publicOrigins.size > 0) return [...this.#publicOrigins].map((origin) => new URL(origin).host);
    return '*';
  }

  #loopbackHosts: readonly string[] | undefined;
  #loopbackPort = 0;

  #hostAllowed(host: string | undefined): boolean {
    const allowed = this.hosts();
    if (allowed === '*') return true;
    if (host === undefined) return false;
    const normalised = normalizeHost(host);
    if (normalised === undefined) return false;
    // The usual case, an exact match, needs no URL.
    if (allowed.includes(normalised)) return true;
    const name = new URL(`http://${normalised}`).hostname;
    return allowed.some(
      (entry) => entry === normalised || (!entry.includes(':', entry.lastIndexOf(']') + 1) && entry === name),
    );
  }

  #sameOrigin(origin: string, request: IncomingMessage): boolean {
    const normalised = normalizeOrigin(origin);
    if (normalised === undefined) return false;
    // Named public origins are the whole truth: behind a proxy, the request's own scheme says nothing.
    if (this.#publicOrigins.size > 0) return this.#publicOrigins.has(normalised);
    const host = requestHost(request);
    if (host === undefined) return false;
    const scheme = (request.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http';
    return normalizeOrigin(`${scheme}://${host}`) === normalised;
  }

  #originAllowed(request: IncomingMessage): boolean {
    const origin = request.headers.origin;
    if (origin === undefined) return true;
    const policy = this.policy;
    if (policy === '*') return true;
    if (typeof policy === 'function') return policy(origin, request);
    if (this.#sameOrigin(origin, request)) return true;
    if (policy === 'same-origin') return false;
    const normalised = normalizeOrigin(origin);
    return normalised !== undefined && policy.some((allowed) => normalizeOrigin(allowed) === normalised);
  }

  /** True when the request may proceed. */
  allows(request: IncomingMessage): boolean {
    return this.#hostAllowed(requestHost(request)) && this.#originAllowed(request);
  }

  /** Throws the 403 refusal when the request may not proceed: `HOST_NOT_ALLOWED` or `ORIGIN_NOT_ALLOWED`. */
  check(request: IncomingMessage): void {
    const host = requestHost(request);
    if (!this.#hostAllowed(host)) {
      throw new AtmosphereError(
        'HOST_NOT_ALLOWED',
        `Host ${JSON.stringify(host ?? '')} is not served here; add it to the \`allowedHosts\` option of createAtmosphere.`,
        { status: 403 },
      );
    }
    if (!this.#originAllowed(request)) {
      throw new AtmosphereError(
        'ORIGIN_NOT_ALLOWED',
        `Origin ${JSON.stringify(request.headers.origin)} is not allowed; add it to the \`origins\` option of createAtmosphere.`,
        { status: 403 },
      );
    }
  }

  /** One line for the startup log. */
  describe(): string {
    const hosts = this.hosts();
    if (hosts === '*' && this.#allowedHosts === undefined && this.#listening() === undefined) {
      return `origins: ${describeOriginPolicy(this.policy)}; hosts: on a loopback address its loopback names, else any (set \`allowedHosts\` to name them)`;
    }
    return `origins: ${describeOriginPolicy(this.policy)}; hosts: ${hosts === '*' ? 'any (set `allowedHosts` to name them)' : hosts.join(', ')}`;
  }
}

/** The request's host: `Host`, or an HTTP/2 request's `:authority` (which stands in for it). */
function requestHost(request: IncomingMessage): string | undefined {
  const host = request.headers.host ?? request.headers[':authority'];
  return typeof host === 'string' ? host : undefined;
}

/** CORS response headers for an allowed request (none when the request carries no Origin). */
export function corsHeaders(request: IncomingMessage): Record<string, string> {
  const list: string[] = [];
  appendCorsHeaders(request, list);
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) headers[list[i]!] = list[i + 1]!;
  return headers;
}

/** The same CORS headers, appended to a flat name, value list (what `writeHead` takes). */
export function appendCorsHeaders(request: IncomingMessage, headers: string[]): void {
  const origin = request.headers.origin;
  if (origin === undefined) return;
  headers.push(
    'Access-Control-Allow-Origin',
    origin,
    'Access-Control-Allow-Credentials',
    'true',
    'Access-Control-Expose-Headers',
    EXPOSED_HEADERS,
    'Vary',
    'Origin',
  );
}

/** Headers answering an allowed preflight `OPTIONS`. */
export function preflightHeaders(request: IncomingMessage): Record<string, string> {
  return {
    ...corsHeaders(request),
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Allow-Headers': ALLOWED_REQUEST_HEADERS,
    'Access-Control-Max-Age': '600',
  };
}

/** One line for the startup log describing the policy. */
export function describeOriginPolicy(policy: OriginPolicy): string {
  if (policy === 'same-origin') return 'same-origin only (set `origins` to allow others)';
  if (policy === '*')
    return 'ANY origin (`origins: "*"`): any web page can connect with its visitors\' credentials';
  if (typeof policy === 'function') return 'decided by the `origins` function';
  return `same-origin and ${policy.length === 0 ? 'nothing else' : policy.join(', ')}`;
}
