import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { unescape as unescapeComponent } from 'node:querystring';
import {
  AtmosphereHeaders,
  isProtocolParameter,
  normalizeTransport,
  parseCursors,
  type StreamCursor,
  TRACKING_ID_PATTERN,
  TRANSPORTS,
  type TransportParameter,
} from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import type { ProtocolRequest } from '../spi/request.ts';

export type { ProtocolRequest };

function headerValue(headers: IncomingHttpHeaders, key: string): string | undefined {
  const value = headers[key];
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

/**
 * Protocol parameter names, as clients spell them and lower-cased, to one shared lower-case key: parsed
 * requests keep no copies of their own, and the usual spelling needs no case conversion.
 */
const KNOWN_NAMES = new Map<string, string>();
for (const name of Object.values(AtmosphereHeaders)) {
  KNOWN_NAMES.set(name, name.toLowerCase());
  KNOWN_NAMES.set(name.toLowerCase(), name.toLowerCase());
}

/** The shared lower-case key of a parameter name. */
function keyOf(name: string): string {
  return KNOWN_NAMES.get(name) ?? KNOWN_NAMES.get(name.toLowerCase()) ?? name.toLowerCase();
}

/** The key of the tracking id parameter. */
const TRACKING_KEY = keyOf(AtmosphereHeaders.trackingId);

/** V8 copies slices shorter than this; longer ones would keep the whole URL alive. */
const SLICED_FROM = 13;

/**
 * Short parameter values that every connection repeats (`true`, the transport, the client's version): one
 * shared copy each instead of a string per connection. Bounded, so hostile values cannot grow it: once full,
 * values are kept as they are.
 */
const SHARED_VALUES = new Map<string, string>();
const SHARED_VALUES_MAX = 256;
const SHARED_VALUE_LENGTH = 24;

function shared(value: string): string {
  if (value.length > SHARED_VALUE_LENGTH) return value;
  const known = SHARED_VALUES.get(value);
  if (known !== undefined) return known;
  if (SHARED_VALUES.size < SHARED_VALUES_MAX) SHARED_VALUES.set(value, value);
  return value;
}

/**
 * The WebSocket handshake's own headers: used once by the upgrade, never by the application afterwards.
 * A WebSocket resource keeps its request for the life of the connection, so these are left out of it.
 */
const HANDSHAKE_HEADERS = new Set([
  'connection',
  'upgrade',
  'sec-websocket-key',
  'sec-websocket-version',
  'sec-websocket-extensions',
]);

/** The request's headers without the WebSocket handshake's own (see {@link HANDSHAKE_HEADERS}). */
function keptHeaders(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  const kept: IncomingHttpHeaders = {};
  for (const name of Object.keys(headers)) {
    if (HANDSHAKE_HEADERS.has(name)) continue;
    const value = headers[name];
    // Short values every client repeats (the host, an origin) are kept once, not per connection.
    kept[name] = typeof value === 'string' ? shared(value) : value;
  }
  return kept;
}

/**
 * One component of a query string, decoded as URLSearchParams would (`+` is a space; bad escapes kept).
 * Short plain text is taken as it is; decoding also copies, so no slice of the URL is kept.
 */
function component(search: string, start: number, end: number): string {
  const text = search.slice(start, end);
  if (text.length < SLICED_FROM && text.indexOf('%') === -1 && text.indexOf('+') === -1) return shared(text);
  return shared(unescapeComponent(text.indexOf('+') === -1 ? text : text.replaceAll('+', ' ')));
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
      let key = KNOWN_NAMES.get(search.slice(start, equals));
      if (key === undefined) {
        const name = component(search, start, equals);
        if (isProtocolParameter(name)) key = keyOf(name);
        else application = true;
      }
      if (key !== undefined && findParam(params, key) === undefined)
        params.push(key, equals === end ? '' : component(search, equals + 1, end));
    }
    start = end + 1;
  }
  return application;
}

function findParam(params: readonly string[], key: string): string | undefined {
  for (let i = 0; i < params.length; i += 2) if (params[i] === key) return params[i + 1];
  return undefined;
}

/** Bits of a parsed request's flags. */
const FIRST_REQUEST = 1;
const WANTS_PROTOCOL = 2;
const HANDSHAKE = 4;
const TRACK_MESSAGE_LENGTH = 8;
const POSITIONS = 16;

/** The protocol parameters of a request without any. */
const NO_PARAMS: readonly string[] = Object.freeze([]);

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
  readonly transport: TransportParameter;
  readonly heartbeatSeconds: number | undefined;
  readonly received: number | undefined;
  /** The yes/no answers (`FIRST_REQUEST`, …): one small integer instead of a field each. */
  readonly #flags: number;
  #cursors: readonly StreamCursor[] | undefined | null = null;
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
    this.headers = upgrade ? keptHeaders(request.headers) : request.headers;
    this.#params = params;
    this.#search = search;

    const transportRaw = this.param(AtmosphereHeaders.transport);
    let transport: TransportParameter;
    if (transportRaw === undefined || transportRaw === '') {
      transport = upgrade ? 'websocket' : 'long-polling';
    } else {
      const normalized = normalizeTransport(transportRaw);
      if (!normalized) {
        throw new AtmosphereError(
          'UNKNOWN_TRANSPORT',
          `Unknown transport ${JSON.stringify(transportRaw.slice(0, 64))}: ${AtmosphereHeaders.transport} must be one of ${[...TRANSPORTS, 'close'].join(', ')}.`,
          { status: 400 },
        );
      }
      transport = normalized;
    }
    this.transport = transport;

    const trackingRaw = this.param(AtmosphereHeaders.trackingId);
    const adopt = trackingRaw !== undefined && trackingRaw !== '0' && TRACKING_ID_PATTERN.test(trackingRaw);
    // A fresh UUID is a rope; an adopted id is already a string of its own (decoded, or a header value).
    this.trackingId = adopt ? trackingRaw : flatString(randomUUID());
    const protocolParam = this.param(AtmosphereHeaders.protocol);
    const wantsProtocol = protocolParam !== undefined && protocolParam.toLowerCase() !== 'false';
    let flags = adopt ? 0 : FIRST_REQUEST;
    if (wantsProtocol) flags |= WANTS_PROTOCOL;
    if (wantsProtocol && trackingRaw !== undefined && !adopt) flags |= HANDSHAKE;
    if (this.param(AtmosphereHeaders.trackMessageSize)?.toLowerCase() === 'true')
      flags |= TRACK_MESSAGE_LENGTH;
    if (this.param(AtmosphereHeaders.positions)?.toLowerCase() === 'true') flags |= POSITIONS;
    this.#flags = flags;
    const heartbeat = this.param(AtmosphereHeaders.heartbeatServer);
    this.heartbeatSeconds =
      heartbeat !== undefined && /^\d{1,9}$/.test(heartbeat.trim()) ? Number(heartbeat) : undefined;
    const received = this.param(AtmosphereHeaders.received);
    this.received = received !== undefined && /^\d{1,15}$/.test(received) ? Number(received) : undefined;
  }

  get firstRequest(): boolean {
    return (this.#flags & FIRST_REQUEST) !== 0;
  }

  get wantsProtocol(): boolean {
    return (this.#flags & WANTS_PROTOCOL) !== 0;
  }

  get handshake(): boolean {
    return (this.#flags & HANDSHAKE) !== 0;
  }

  get trackMessageLength(): boolean {
    return (this.#flags & TRACK_MESSAGE_LENGTH) !== 0;
  }

  get positions(): boolean {
    return (this.#flags & POSITIONS) !== 0;
  }

  get cursors(): readonly StreamCursor[] | undefined {
    if (this.#cursors === null) {
      const value = this.positions ? this.param(AtmosphereHeaders.cursors) : undefined;
      this.#cursors = value === undefined || value === '' ? undefined : parseCursors(value);
    }
    return this.#cursors;
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
    return this.param(AtmosphereHeaders.framework);
  }

  get contentType(): string | undefined {
    return this.param(AtmosphereHeaders.contentType);
  }

  get postBody(): string | undefined {
    return this.queryParam(AtmosphereHeaders.postBody);
  }

  get authToken(): string | undefined {
    return this.param(AtmosphereHeaders.auth);
  }

  get sessionToken(): string | undefined {
    return this.param(AtmosphereHeaders.sessionToken);
  }

  get runId(): string | undefined {
    return this.param(AtmosphereHeaders.runId);
  }

  param(name: string): string | undefined {
    const key = keyOf(name);
    return findParam(this.#params, key) ?? headerValue(this.headers, key);
  }

  queryParam(name: string): string | undefined {
    return findParam(this.#params, keyOf(name));
  }
}

/**
 * Reads the protocol parameters of a request. Throws `UNKNOWN_TRANSPORT` (400) for a transport the protocol
 * does not have. Never throws for a bad tracking id: it is replaced by a fresh UUID. `decodedPath`, when the
 * caller already decoded the path (the router does), saves decoding it again.
 */
export function parseProtocolRequest(
  request: IncomingMessage,
  upgrade: boolean,
  decodedPath?: string,
): ProtocolRequest {
  const rawUrl = request.url ?? '/';
  const queryStart = rawUrl.indexOf('?');
  let path = decodedPath;
  if (path === undefined) {
    const rawPath = queryStart === -1 ? rawUrl : rawUrl.slice(0, queryStart);
    try {
      path = decodeURIComponent(rawPath);
    } catch {
      throw new AtmosphereError(
        'BAD_REQUEST',
        `The request path ${JSON.stringify(rawPath)} is not valid URL encoding.`,
        { status: 400 },
      );
    }
  }
  let params: readonly string[] = NO_PARAMS;
  let search: string | undefined;
  if (queryStart !== -1) {
    const query = rawUrl.slice(queryStart + 1);
    const read: string[] = [];
    if (readQuery(query, read)) search = query;
    if (read.length !== 0) params = sharedParams(query, read);
  }
  return new ParsedProtocolRequest(request, path, params, search, upgrade);
}

/** Query strings whose protocol parameters are kept for the next request with the same query. */
const SHARED_QUERIES = 16;
/** Longer query strings are not kept. */
const SHARED_QUERY_LENGTH = 512;
const sharedQueries: string[] = [];
const sharedLists: (readonly string[])[] = [];

/**
 * @internal The protocol parameters `read` from `query`, kept for the life of the connection: the list of an
 * earlier request with the very same query string (every first connection of a client library sends the same
 * one), else a frozen copy of its exact size (pushing leaves spare slots). Only a query a later client can send
 * too is remembered (the last few, the oldest forgotten first): one with a client's own tracking id — a
 * reconnect — is not, so reconnects do not push out the queries first connections share.
 */
export function sharedParams(query: string, read: string[]): readonly string[] {
  for (let i = 0; i < sharedQueries.length; i++) if (sharedQueries[i] === query) return sharedLists[i]!;
  const list = Object.freeze(read.slice());
  const tracking = findParam(list, TRACKING_KEY);
  if (query.length > SHARED_QUERY_LENGTH || (tracking !== undefined && tracking !== '0' && tracking !== ''))
    return list;
  if (sharedQueries.length >= SHARED_QUERIES) {
    sharedQueries.shift();
    sharedLists.shift();
  }
  sharedQueries.push(query);
  sharedLists.push(list);
  return list;
}

/**
 * Whether a reconnecting client expects the handshake again as its first read: a known tracking id, the
 * protocol asked for, no `X-Atmosphere-Received` (our client sends it and expects no second handshake) and
 * an atmosphere.js 5 or later version (`X-Atmosphere-Framework`). atmosphere.js 5 resets its protocol
 * state on every reconnect and takes the first thing it reads for the handshake; wAsync (which announces
 * 2.x) reads the handshake once per socket and would take a second one for a message.
 */
export function expectsHandshakeAgain(request: ProtocolRequest): boolean {
  if (request.firstRequest || !request.wantsProtocol || request.received !== undefined) return false;
  const framework = request.framework;
  if (framework === undefined) return false;
  const major = /^\s*(\d{1,4})\./.exec(framework);
  return major !== null && Number(major[1]) >= 5;
}
