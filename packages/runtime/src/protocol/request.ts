import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { unescape as unescapeComponent } from 'node:querystring';
import { AtmosphereError } from '../errors.ts';
import {
  Headers,
  isProtocolParameter,
  MIN_FRAMEWORK_VERSION,
  TRACKING_ID_PATTERN,
  TRANSPORTS,
  type TransportName,
} from './constants.ts';

/** What the protocol parameters of one request say, read from the query string first, then the headers. */
export interface ProtocolRequest {
  readonly method: string;
  /** URL path, decoded, without the query string. */
  readonly path: string;
  /** The application's own query parameters: protocol parameters removed. */
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** The tracking id to use: adopted from the client, or a fresh UUID. */
  readonly trackingId: string;
  /** True when the client sent no usable tracking id (missing, `0`, or invalid) and got a fresh one. */
  readonly firstRequest: boolean;
  /** The transport, canonical spelling. A missing one is `websocket` on an upgrade, else `long-polling`. */
  readonly transport: TransportName;
  readonly framework: string | undefined;
  /** `X-atmo-protocol` present (and not `false`): the client speaks the protocol. */
  readonly wantsProtocol: boolean;
  /**
   * The server's first write is the handshake: the client asked for the protocol and sent tracking id `0`
   * (or an invalid one, replaced by a fresh UUID it can only learn this way). A missing id gets none.
   */
  readonly handshake: boolean;
  /** `X-Atmosphere-TrackMessageSize=true`: length-prefixed framing on every text write. */
  readonly trackMessageLength: boolean;
  /** `X-Heartbeat-Server` in seconds, when given and numeric. */
  readonly heartbeatSeconds: number | undefined;
  readonly contentType: string | undefined;
  readonly postBody: string | undefined;
  readonly authToken: string | undefined;
  readonly sessionToken: string | undefined;
  readonly runId: string | undefined;
  /** Ours: messages the client has received for this tracking id (`X-Atmosphere-Received`). */
  readonly received: number | undefined;
  /** A read of any protocol parameter by name (query first, then header). */
  param(name: string): string | undefined;
  /** A protocol parameter from the query string only. */
  queryParam(name: string): string | undefined;
}

/** Canonical transport name for any accepted spelling (`LONG_POLLING`, `long-polling`, …), else undefined. */
export function normalizeTransport(value: string): TransportName | undefined {
  const canonical = value.trim().toLowerCase().replaceAll('_', '-');
  return (TRANSPORTS as readonly string[]).includes(canonical) ? (canonical as TransportName) : undefined;
}

/**
 * Compares a client framework version (`5.0.7`, `2.2.0-jquery`) with the minimum. Returns true when the
 * version is readable and older than 2.2.1. Unreadable versions are not rejected.
 */
export function isUnsupportedFrameworkVersion(version: string): boolean {
  const match = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(version.trim());
  if (!match) return false;
  const parts = [Number(match[1]), Number(match[2] ?? 0), Number(match[3] ?? 0)];
  for (let i = 0; i < 3; i++) {
    const a = parts[i] ?? 0;
    const b = MIN_FRAMEWORK_VERSION[i] ?? 0;
    if (a !== b) return a < b;
  }
  return false;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  if (Array.isArray(value)) return value[0];
  return value;
}

/**
 * A string that holds its own characters. `randomUUID()` returns a rope of ~14 pieces and a slice of the
 * URL keeps the whole URL alive; either would be held for the life of the connection (the tracking id is
 * the key of three maps), so values kept that long are copied flat once.
 */
export function flatString(text: string): string {
  return Buffer.from(text, 'utf8').toString('utf8');
}

/** Lower-case protocol parameter names, shared, so parsed requests do not each keep their own copies. */
const KNOWN_NAMES = new Map<string, string>(
  Object.values(Headers).map((name) => [name.toLowerCase(), name.toLowerCase()]),
);

/** One component of a query string, decoded as URLSearchParams would (`+` is a space; bad escapes kept). */
function decodeComponent(text: string): string {
  // Decoding also copies the text, so no slice of the URL is kept.
  return unescapeComponent(text.includes('+') ? text.replaceAll('+', ' ') : text);
}

/**
 * Splits a query string into the protocol parameters (first occurrence of each, by lower-case name, into
 * `params` as name, value, name, value…) and tells whether any application parameter is left.
 */
function readQuery(search: string, params: string[]): boolean {
  let application = false;
  let start = 0;
  while (start < search.length) {
    let end = search.indexOf('&', start);
    if (end === -1) end = search.length;
    if (end > start) {
      let equals = search.indexOf('=', start);
      if (equals === -1 || equals > end) equals = end;
      const name = decodeComponent(search.slice(start, equals));
      if (isProtocolParameter(name)) {
        const lower = name.toLowerCase();
        const key = KNOWN_NAMES.get(lower) ?? lower;
        if (findParam(params, key) === undefined)
          params.push(key, equals === end ? '' : decodeComponent(search.slice(equals + 1, end)));
      } else {
        application = true;
      }
    }
    start = end + 1;
  }
  return application;
}

function findParam(params: readonly string[], key: string): string | undefined {
  for (let i = 0; i < params.length; i += 2) if (params[i] === key) return params[i + 1];
  return undefined;
}

/**
 * The parsed request. Kept by the resource for the life of its connection, so it holds little: the
 * protocol parameters as one flat array, the application query only as text (parsed on first use), and
 * no closures.
 */
class ParsedProtocolRequest implements ProtocolRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly trackingId: string;
  readonly firstRequest: boolean;
  readonly transport: TransportName;
  readonly wantsProtocol: boolean;
  readonly handshake: boolean;
  readonly trackMessageLength: boolean;
  readonly heartbeatSeconds: number | undefined;
  readonly received: number | undefined;
  /** Protocol parameters of the query string: lower-case name, value, name, value… */
  readonly #params: readonly string[];
  /** The query string, kept only when it has application parameters. */
  readonly #search: string | undefined;
  #query: URLSearchParams | undefined;

  constructor(
    request: IncomingMessage,
    path: string,
    params: readonly string[],
    search: string | undefined,
    upgrade: boolean,
  ) {
    this.method = request.method ?? 'GET';
    this.path = path;
    this.headers = request.headers;
    this.#params = params;
    this.#search = search;

    const transportRaw = this.param(Headers.transport);
    let transport: TransportName;
    if (transportRaw === undefined || transportRaw === '') {
      transport = upgrade ? 'websocket' : 'long-polling';
    } else {
      const normalized = normalizeTransport(transportRaw);
      if (!normalized) {
        throw new AtmosphereError(
          'UNKNOWN_TRANSPORT',
          `Unknown transport ${JSON.stringify(transportRaw.slice(0, 64))}: ${Headers.transport} must be one of ${TRANSPORTS.join(', ')}.`,
          { status: 400 },
        );
      }
      transport = normalized;
    }
    this.transport = transport;

    const trackingRaw = this.param(Headers.trackingId);
    const adopt = trackingRaw !== undefined && trackingRaw !== '0' && TRACKING_ID_PATTERN.test(trackingRaw);
    this.trackingId = flatString(adopt ? trackingRaw : randomUUID());
    this.firstRequest = !adopt;
    const protocolParam = this.param(Headers.protocol);
    this.wantsProtocol = protocolParam !== undefined && protocolParam.toLowerCase() !== 'false';
    this.handshake = this.wantsProtocol && trackingRaw !== undefined && !adopt;
    this.trackMessageLength = this.param(Headers.trackMessageSize)?.toLowerCase() === 'true';
    const heartbeat = this.param(Headers.heartbeatServer);
    this.heartbeatSeconds =
      heartbeat !== undefined && /^\d{1,9}$/.test(heartbeat.trim()) ? Number(heartbeat) : undefined;
    const received = this.param(Headers.received);
    this.received = received !== undefined && /^\d{1,15}$/.test(received) ? Number(received) : undefined;
  }

  get query(): URLSearchParams {
    if (this.#query === undefined) {
      const query = new URLSearchParams();
      if (this.#search !== undefined) {
        for (const [name, value] of new URLSearchParams(this.#search))
          if (!isProtocolParameter(name)) query.append(name, value);
      }
      this.#query = query;
    }
    return this.#query;
  }

  get framework(): string | undefined {
    return this.param(Headers.framework);
  }

  get contentType(): string | undefined {
    return this.param(Headers.contentType);
  }

  get postBody(): string | undefined {
    return this.queryParam(Headers.postBody);
  }

  get authToken(): string | undefined {
    return this.param(Headers.auth);
  }

  get sessionToken(): string | undefined {
    return this.param(Headers.sessionToken);
  }

  get runId(): string | undefined {
    return this.param(Headers.runId);
  }

  param(name: string): string | undefined {
    return this.queryParam(name) ?? headerValue(this.headers, name);
  }

  queryParam(name: string): string | undefined {
    const lower = name.toLowerCase();
    return findParam(this.#params, KNOWN_NAMES.get(lower) ?? lower);
  }
}

/**
 * Reads the protocol parameters of a request. Throws `UNKNOWN_TRANSPORT` (400) for a transport the protocol
 * does not have. Never throws for a bad tracking id: it is replaced by a fresh UUID.
 */
export function parseProtocolRequest(request: IncomingMessage, upgrade: boolean): ProtocolRequest {
  const rawUrl = request.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    throw new AtmosphereError(
      'BAD_REQUEST',
      `The request path ${JSON.stringify(rawPath)} is not valid URL encoding.`,
      {
        status: 400,
      },
    );
  }
  const params: string[] = [];
  let search: string | undefined;
  if (queryStart !== -1) {
    search = rawUrl.slice(queryStart + 1);
    if (!readQuery(search, params)) search = undefined;
  }
  return new ParsedProtocolRequest(request, path, params, search, upgrade);
}
