/** Request and response header names of the Atmosphere protocol. Each may also arrive as a query parameter. */
export const Headers = {
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
  /** With `X-Atmosphere-Run-Id`: the last AI frame `seq` the client saw of that run. */
  lastSeq: 'X-Atmosphere-Last-Seq',
  firstRequest: 'X-Atmosphere-first-request',
  error: 'X-Atmosphere-error',
  /**
   * Ours: how many messages the client has received for its tracking id, sent on every (re)connection by
   * `@atmosphere/client`. Lets the server resend exactly what a cut connection lost. Clients that do not
   * send it get the classic rule: a message written to the socket counts as delivered.
   */
  received: 'X-Atmosphere-Received',
} as const;

/** The transports of the protocol, in their canonical spelling. */
export const TRANSPORTS = ['websocket', 'sse', 'long-polling', 'streaming', 'polling', 'close'] as const;
export type TransportName = (typeof TRANSPORTS)[number];
/** Transports that keep a connection (or a chain of polls) to a client. */
export type ConnectionTransport = Exclude<TransportName, 'close'>;

/** Default padding char: the heartbeat payload, and the char clients drop. */
export const PADDING_CHAR = 'X';
/** Padding written at the start of an SSE response: 2000 spaces and a newline. */
export const SSE_PADDING = ' '.repeat(2000) + '\n';
/** Padding written at the start of a streaming or long-polling response: 2048 spaces and a newline. */
export const STREAMING_PADDING = ' '.repeat(2048) + '\n';

/** The oldest client protocol version the server accepts on a handshake. */
export const MIN_FRAMEWORK_VERSION = [2, 2, 1] as const;
export const UNSUPPORTED_VERSION_MESSAGE = 'Atmosphere Protocol version not supported.';

/** Every response carries these, so no proxy or browser caches a stream. */
export const NO_CACHE_HEADERS: Readonly<Record<string, string>> = {
  'Cache-Control': 'no-store, no-cache, must-revalidate',
  Pragma: 'no-cache',
  Expires: '-1',
};

/** Valid client-chosen tracking ids. Anything else is replaced by a fresh UUID. */
export const TRACKING_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;

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
