import type { IncomingHttpHeaders } from 'node:http';
import type { StreamCursor, TransportParameter } from '@atmosphere/protocol';

/** What the protocol parameters of one request say, read from the query string first, then the headers. */
export interface ProtocolRequest {
  readonly method: string;
  /** URL path, decoded, without the query string. */
  readonly path: string;
  /** The application's own query parameters: protocol parameters removed. */
  readonly query: URLSearchParams;
  /**
   * The request's headers. On a WebSocket connection, the handshake's own (`connection`, `upgrade`,
   * `sec-websocket-key`, `sec-websocket-version`, `sec-websocket-extensions`) are not kept.
   */
  readonly headers: IncomingHttpHeaders;
  /** The tracking id to use: adopted from the client, or a fresh UUID. */
  readonly trackingId: string;
  /** True when the client sent no usable tracking id (missing, `0`, or invalid) and got a fresh one. */
  readonly firstRequest: boolean;
  /** The transport, canonical spelling. A missing one is `websocket` on an upgrade, else `long-polling`. */
  readonly transport: TransportParameter;
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
  /**
   * Ours: the client asked for stream positions (`X-Atmosphere-Positions: true`): each message of a
   * broadcaster carries its position, and a resume the log cannot serve is said with a reset frame.
   */
  readonly positions: boolean;
  /** Ours: with `positions`, the last position the client got of each stream (`X-Atmosphere-Cursors`). */
  readonly cursors: readonly StreamCursor[] | undefined;
  /** A read of any protocol parameter by name (query first, then header). */
  param(name: string): string | undefined;
  /** A protocol parameter from the query string only. */
  queryParam(name: string): string | undefined;
}
