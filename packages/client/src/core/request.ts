import type { SessionKeeping } from './session-keeper.ts';
import {
  AtmosphereHeaders,
  CLIENT_TRANSPORTS,
  type ClientTransportName,
  formatCursors,
  FRAMEWORK_VERSION,
  type StreamCursor,
} from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';

/**
 * What to connect to and how. Only `url` is required; the defaults suit an Atmosphere server: the
 * protocol handshake, length-prefixed framing and reconnection are on.
 */
export interface AtmosphereRequest {
  /** The endpoint: absolute, or relative to the page in a browser (`/chat`). `ws:`/`wss:` are accepted too. */
  url: string;
  /** The preferred transport. Default `websocket`. */
  transport?: ClientTransportName;
  /**
   * Transports to try, in order, when the preferred one cannot open (WebSocket missing or refused, e.g. by a
   * proxy). Default `['sse', 'long-polling']` (without the preferred one). `[]` disables fallback.
   */
  fallbackTransport?: ClientTransportName | readonly ClientTransportName[];
  /** Length-prefixed framing (`X-Atmosphere-TrackMessageSize`): messages survive any chunking. Default true. */
  trackMessageLength?: boolean;
  /** Ask for the handshake (`X-atmo-protocol`): the server assigns the tracking id. Default true. */
  enableProtocol?: boolean;
  /** Reconnect after a lost connection, replaying what was missed. Default true. */
  reconnect?: boolean;
  /** Base delay of the exponential reconnect backoff, in ms. Default 1000. */
  reconnectInterval?: number;
  /** Longest delay between reconnect attempts, in ms. Default 30 000. */
  maxReconnectInterval?: number;
  /** Reconnect attempts in a row before giving up (`failureToReconnect`). Default 10; `Infinity` never gives up. */
  maxReconnectOnClose?: number;
  /** Inactivity timeout: no data (messages or heartbeats) for this long ends the connection (`clientTimeout`) and reconnects. Default 300 000 ms; 0 disables. */
  timeout?: number;
  /** How long opening a connection (up to the handshake) may take before the next transport is tried. Default 10 000 ms. */
  connectTimeout?: number;
  /**
   * Extra request headers. Sent as HTTP headers where the transport can (streaming, long-polling, SSE over
   * fetch, posts) and as query parameters where it cannot (WebSocket, EventSource).
   */
  headers?: Readonly<Record<string, string>>;
  /** Send cookies cross-origin (`credentials: 'include'`, `EventSource` `withCredentials`). Default false. */
  withCredentials?: boolean;
  /** Auth token, sent as `X-Atmosphere-Auth`. */
  authToken?: string;
  /** Durable-session token, sent as `X-Atmosphere-Session-Token` (updated from the server's answers). */
  sessionToken?: string;
  /**
   * Where the durable-session token is kept: `memory` (default), `sessionStorage` or `localStorage` (survives
   * a reload), or `false` for no session. The client asks for a session on its first connection, keeps the
   * token the server sends first, and presents it on every reconnect; a refused token is forgotten and a new
   * session started (the `session` event says `created`: what the server held is gone).
   */
  session?: SessionKeeping;
  /** An AI run to re-attach to, sent as `X-Atmosphere-Run-Id`. */
  runId?: string;
  /** Content type of posted messages. Default `text/plain` (sent as a query parameter only when set). */
  contentType?: string;
  /** Server heartbeat wish: `server` is the interval in seconds (`X-Heartbeat-Server`; 0 disables). */
  heartbeat?: { server?: number };
  /** Longest message accepted from the server, in UTF-16 code units. Default 8 MiB. */
  maxMessageSize?: number;
  /** Messages kept while disconnected; past it the oldest is dropped (`QUEUE_FULL`). Default 1000. */
  maxQueuedMessages?: number;
  /**
   * In a browser, send the close request (`navigator.sendBeacon`) when the page is unloaded: the server ends the
   * session at once. Default true, or false with `session: 'sessionStorage' | 'localStorage'` (a reload comes
   * back to the session). `false`: the client says it is coming back (a WebSocket closes with 4000), so a
   * reloaded page resumes the session and a running answer within the reconnect grace period.
   */
  closeOnUnload?: boolean;
  /** SSE implementation: `EventSource` when the platform has one (`auto`), or always `fetch`. Default `auto`. */
  sse?: 'auto' | 'fetch';
  /**
   * Ask for stream positions (`X-Atmosphere-Positions`). Default true. Each message of a broadcaster or room
   * then carries its position (`message.position`); the client remembers the last one of each stream and
   * presents it on every reconnect, so the server sends exactly what was missed — even after a restart with a
   * durable log — or says it cannot with a `reset` event. Servers that do not know positions ignore it.
   */
  positions?: boolean;
}

/** A request with every default applied. */
export interface ResolvedRequest {
  readonly url: string;
  readonly transports: readonly ClientTransportName[];
  readonly trackMessageLength: boolean;
  readonly enableProtocol: boolean;
  readonly reconnect: boolean;
  readonly reconnectInterval: number;
  readonly maxReconnectInterval: number;
  readonly maxReconnectOnClose: number;
  readonly timeout: number;
  readonly connectTimeout: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly withCredentials: boolean;
  readonly authToken: string | undefined;
  readonly contentType: string | undefined;
  readonly heartbeatServer: number | undefined;
  readonly maxMessageSize: number;
  readonly maxQueuedMessages: number;
  readonly closeOnUnload: boolean;
  readonly sse: 'auto' | 'fetch';
  readonly sessionToken: string | undefined;
  readonly session: SessionKeeping;
  readonly runId: string | undefined;
  readonly positions: boolean;
}

/** The defaults, for documentation and tests. */
export const REQUEST_DEFAULTS = {
  transport: 'websocket',
  fallbackTransport: ['sse', 'long-polling'],
  trackMessageLength: true,
  enableProtocol: true,
  reconnect: true,
  reconnectInterval: 1000,
  maxReconnectInterval: 30_000,
  maxReconnectOnClose: 10,
  timeout: 300_000,
  connectTimeout: 10_000,
  withCredentials: false,
  maxMessageSize: 8 * 1024 * 1024,
  maxQueuedMessages: 1000,
  closeOnUnload: true,
  sse: 'auto',
  positions: true,
} as const;

function invalid(message: string): AtmosphereClientError {
  return new AtmosphereClientError('INVALID_OPTION', message);
}

function isTransport(value: unknown): value is ClientTransportName {
  return typeof value === 'string' && (CLIENT_TRANSPORTS as readonly string[]).includes(value);
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value) || value < 0) {
    throw invalid(`\`${name}\` must be a number >= 0; got ${String(value)}.`);
  }
  return value;
}

/** Resolves a page-relative URL against the document (browsers) and checks it is http(s) or ws(s). */
function absoluteUrl(url: string): string {
  if (typeof url !== 'string' || url.length === 0)
    throw invalid('`url` is required: the Atmosphere endpoint, e.g. "/chat".');
  const base = (globalThis as { location?: { href?: string } }).location?.href;
  let parsed: URL;
  try {
    parsed = base === undefined ? new URL(url) : new URL(url, base);
  } catch {
    throw invalid(
      `\`url\` ${JSON.stringify(url)} is not a valid URL${base === undefined ? ' (outside a browser it must be absolute)' : ''}.`,
    );
  }
  if (parsed.protocol === 'ws:') parsed.protocol = 'http:';
  else if (parsed.protocol === 'wss:') parsed.protocol = 'https:';
  else if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw invalid(`\`url\` must be http(s) or ws(s); got ${JSON.stringify(url)}.`);
  }
  parsed.hash = '';
  return parsed.toString();
}

/** Applies defaults and checks the options; throws `INVALID_OPTION` naming the bad one. */
export function resolveRequest(request: AtmosphereRequest): ResolvedRequest {
  const primary = request.transport ?? REQUEST_DEFAULTS.transport;
  if (!isTransport(primary))
    throw invalid(
      `\`transport\` must be one of ${CLIENT_TRANSPORTS.join(', ')}; got ${JSON.stringify(primary)}.`,
    );
  const fallback = request.fallbackTransport ?? REQUEST_DEFAULTS.fallbackTransport;
  const fallbacks = typeof fallback === 'string' ? [fallback] : fallback;
  const transports: ClientTransportName[] = [primary];
  for (const name of fallbacks) {
    if (!isTransport(name)) {
      throw invalid(
        `\`fallbackTransport\` must name transports among ${CLIENT_TRANSPORTS.join(', ')}; got ${JSON.stringify(name)}.`,
      );
    }
    if (!transports.includes(name)) transports.push(name);
  }
  const heartbeatServer = request.heartbeat?.server;
  if (heartbeatServer !== undefined) nonNegative('heartbeat.server', heartbeatServer, 0);
  const maxMessageSize = nonNegative(
    'maxMessageSize',
    request.maxMessageSize,
    REQUEST_DEFAULTS.maxMessageSize,
  );
  const maxQueued = nonNegative(
    'maxQueuedMessages',
    request.maxQueuedMessages,
    REQUEST_DEFAULTS.maxQueuedMessages,
  );
  if (maxMessageSize < 1) throw invalid('`maxMessageSize` must be at least 1.');
  if (maxQueued < 1) throw invalid('`maxQueuedMessages` must be at least 1.');
  return {
    url: absoluteUrl(request.url),
    transports,
    trackMessageLength: request.trackMessageLength ?? REQUEST_DEFAULTS.trackMessageLength,
    enableProtocol: request.enableProtocol ?? REQUEST_DEFAULTS.enableProtocol,
    reconnect: request.reconnect ?? REQUEST_DEFAULTS.reconnect,
    reconnectInterval: nonNegative(
      'reconnectInterval',
      request.reconnectInterval,
      REQUEST_DEFAULTS.reconnectInterval,
    ),
    maxReconnectInterval: nonNegative(
      'maxReconnectInterval',
      request.maxReconnectInterval,
      REQUEST_DEFAULTS.maxReconnectInterval,
    ),
    maxReconnectOnClose: nonNegative(
      'maxReconnectOnClose',
      request.maxReconnectOnClose,
      REQUEST_DEFAULTS.maxReconnectOnClose,
    ),
    timeout: nonNegative('timeout', request.timeout, REQUEST_DEFAULTS.timeout),
    connectTimeout: nonNegative('connectTimeout', request.connectTimeout, REQUEST_DEFAULTS.connectTimeout),
    headers: { ...request.headers },
    withCredentials: request.withCredentials ?? REQUEST_DEFAULTS.withCredentials,
    authToken: request.authToken,
    contentType: request.contentType,
    heartbeatServer,
    maxMessageSize,
    maxQueuedMessages: maxQueued,
    // A session kept in storage is meant to outlive the page: a reload comes back to it (and to the answer it
    // was showing) instead of telling the server the client left for good.
    closeOnUnload:
      request.closeOnUnload ??
      (request.session === 'sessionStorage' || request.session === 'localStorage'
        ? false
        : REQUEST_DEFAULTS.closeOnUnload),
    sse: request.sse ?? REQUEST_DEFAULTS.sse,
    sessionToken: request.sessionToken,
    session: request.session ?? 'memory',
    runId: request.runId,
    positions: request.positions ?? REQUEST_DEFAULTS.positions,
  };
}

/** What changes between the requests of one subscription. */
export interface ProtocolState {
  readonly trackingId: string;
  readonly received: number;
  readonly sessionToken: string | undefined;
  readonly runId: string | undefined;
  /** The last position of each stream, presented on connect (`X-Atmosphere-Cursors`) when `positions` is on. */
  readonly cursors?: readonly StreamCursor[] | undefined;
  /** With `runId`: the last AI frame `seq` seen of that run, so the server resends only what follows. */
  readonly lastSeq?: number | undefined;
}

/** How a URL is used: to connect (with the count for replay), to post, or to close. */
export type UrlPurpose = 'connect' | 'post';

/**
 * The URL of one request with the protocol parameters in the query string (PROTOCOL.md §1), in the order
 * atmosphere.js sends them. `queryHeaders` adds the request's `headers` as parameters, for transports
 * that cannot set headers.
 */
export function protocolUrl(
  request: ResolvedRequest,
  transport: ClientTransportName | 'polling',
  state: ProtocolState,
  purpose: UrlPurpose,
  queryHeaders: boolean,
): string {
  const url = new URL(request.url);
  const query = url.searchParams;
  query.set(AtmosphereHeaders.trackingId, state.trackingId);
  query.set(AtmosphereHeaders.framework, FRAMEWORK_VERSION);
  query.set(AtmosphereHeaders.transport, transport);
  if (request.trackMessageLength) query.set(AtmosphereHeaders.trackMessageSize, 'true');
  if (request.heartbeatServer !== undefined)
    query.set(AtmosphereHeaders.heartbeatServer, String(request.heartbeatServer));
  if (request.contentType !== undefined) query.set(AtmosphereHeaders.contentType, request.contentType);
  if (request.enableProtocol) query.set(AtmosphereHeaders.protocol, 'true');
  if (state.sessionToken !== undefined) query.set(AtmosphereHeaders.sessionToken, state.sessionToken);
  if (state.runId !== undefined) {
    query.set(AtmosphereHeaders.runId, state.runId);
    if (state.lastSeq !== undefined) query.set(AtmosphereHeaders.lastSeq, String(state.lastSeq));
  }
  if (request.authToken !== undefined) query.set(AtmosphereHeaders.auth, request.authToken);
  if (purpose === 'connect') query.set(AtmosphereHeaders.received, String(state.received));
  if (purpose === 'connect' && request.positions) {
    query.set(AtmosphereHeaders.positions, 'true');
    if (state.cursors !== undefined && state.cursors.length > 0)
      query.set(AtmosphereHeaders.cursors, formatCursors(state.cursors));
  }
  if (queryHeaders) for (const name in request.headers) query.set(name, request.headers[name]!);
  if (transport === 'websocket') url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  return url.toString();
}

/** The explicit close request: `<url>?X-Atmosphere-Transport=close&X-Atmosphere-tracking-id=<id>` (PROTOCOL.md §5). */
export function closeUrl(request: ResolvedRequest, trackingId: string): string {
  const url = new URL(request.url);
  url.searchParams.set(AtmosphereHeaders.transport, 'close');
  url.searchParams.set(AtmosphereHeaders.trackingId, trackingId);
  if (request.authToken !== undefined) url.searchParams.set(AtmosphereHeaders.auth, request.authToken);
  return url.toString();
}
