/**
 * Names of the Atmosphere protocol (PROTOCOL.md §1). Every one may travel as a query parameter: WebSocket
 * and EventSource cannot set request headers, so the client puts them in the query string everywhere.
 */
export const Params = {
  trackingId: 'X-Atmosphere-tracking-id',
  transport: 'X-Atmosphere-Transport',
  framework: 'X-Atmosphere-Framework',
  protocol: 'X-atmo-protocol',
  trackMessageSize: 'X-Atmosphere-TrackMessageSize',
  heartbeatServer: 'X-Heartbeat-Server',
  contentType: 'Content-Type',
  auth: 'X-Atmosphere-Auth',
  sessionToken: 'X-Atmosphere-Session-Token',
  runId: 'X-Atmosphere-Run-Id',
  received: 'X-Atmosphere-Received',
  error: 'X-Atmosphere-error',
} as const;

/** The protocol version this client speaks (sent as `X-Atmosphere-Framework`; servers refuse < 2.2.1). */
export const FRAMEWORK_VERSION = '5.0.7';

/** The default heartbeat payload; the handshake may name another. */
export const DEFAULT_PADDING_CHAR = 'X';

/** The transports a subscription can use. */
export type TransportName = 'websocket' | 'sse' | 'streaming' | 'long-polling';

/** Every transport name, in the default fallback order. */
export const TRANSPORT_NAMES: readonly TransportName[] = ['websocket', 'sse', 'streaming', 'long-polling'];

/** A tracking id the server adopts as it is (PROTOCOL.md §1). */
export const TRACKING_ID_PATTERN = /^[A-Za-z0-9_-]{1,128}$/;
