/**
 * Request and response header names of the Atmosphere protocol (PROTOCOL.md §1). Every one may also travel
 * as a query parameter: WebSocket and EventSource cannot set request headers, so clients put them in the
 * query string and servers read the query first.
 */
export const AtmosphereHeaders = {
  trackingId: 'X-Atmosphere-tracking-id',
  transport: 'X-Atmosphere-Transport',
  framework: 'X-Atmosphere-Framework',
  protocol: 'X-atmo-protocol',
  trackMessageSize: 'X-Atmosphere-TrackMessageSize',
  heartbeatServer: 'X-Heartbeat-Server',
  contentType: 'Content-Type',
  postBody: 'X-Atmosphere-Post-Body',
  auth: 'X-Atmosphere-Auth',
  authRefresh: 'X-Atmosphere-Auth-Refresh',
  authExpired: 'X-Atmosphere-Auth-Expired',
  sessionToken: 'X-Atmosphere-Session-Token',
  runId: 'X-Atmosphere-Run-Id',
  /** Ours: with `X-Atmosphere-Run-Id`, the last AI frame `seq` the client saw of that run. */
  lastSeq: 'X-Atmosphere-Last-Seq',
  firstRequest: 'X-Atmosphere-first-request',
  error: 'X-Atmosphere-error',
  /**
   * Ours: how many messages the client has received for its tracking id, sent on every (re)connection by
   * `@atmosphere/client`. Lets the server resend exactly what a cut connection lost. Clients that do not
   * send it get the classic rule: a message written to the socket counts as delivered.
   */
  received: 'X-Atmosphere-Received',
  /**
   * Ours: `true` asks for stream positions: every message of a broadcaster (or room) carries its position
   * `(epoch, seq)` in a prefix, and a resume the log cannot serve is said with a reset frame (`positions.ts`).
   */
  positions: 'X-Atmosphere-Positions',
  /** Ours: with `X-Atmosphere-Positions`, the last position the client got of each stream (`formatCursors`). */
  cursors: 'X-Atmosphere-Cursors',
} as const;

/**
 * The form of a durable-session token (`X-Atmosphere-Session-Token`, the `atmosphere-session` frame): 22 to
 * 128 URL-safe characters (at least 128 bits in base64url). Servers refuse, and clients ignore, anything else.
 */
export const SESSION_TOKEN_PATTERN = /^[A-Za-z0-9_-]{22,128}$/;

/** A header (or query parameter) name of the protocol. */
export type AtmosphereHeader = (typeof AtmosphereHeaders)[keyof typeof AtmosphereHeaders];

/** Query parameters that belong to the protocol and never reach the application. */
export function isProtocolParameter(name: string): boolean {
  const lower = name.toLowerCase();
  return (
    lower.startsWith('x-atmosphere-') ||
    lower.startsWith('x-atmo-') ||
    lower === 'x-heartbeat-server' ||
    lower === 'content-type' ||
    lower === '_'
  );
}

/** Valid client-chosen tracking ids (PROTOCOL.md §1). Anything else is replaced by a fresh UUID. */
export const TRACKING_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

/** The protocol version our client announces (`X-Atmosphere-Framework`). */
export const FRAMEWORK_VERSION = '5.0.7';

/** The oldest client protocol version a server accepts on a handshake. */
export const MIN_FRAMEWORK_VERSION = [2, 2, 1] as const;

/** The `X-Atmosphere-error` text of the 501 answer to an older client. */
export const UNSUPPORTED_VERSION_MESSAGE = 'Atmosphere Protocol version not supported.';

/**
 * Compares a client framework version (`5.0.7`, `2.2.0-jquery`) with the minimum. True when the version is
 * readable and older than 2.2.1; unreadable versions are not refused.
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

/** Every response carries these, so no proxy or browser caches a stream. */
export const NO_CACHE_HEADERS: Readonly<Record<string, string>> = /* @__PURE__ */ Object.freeze({
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
  Expires: '-1',
});
