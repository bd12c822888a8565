import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
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
  const search = new URLSearchParams(queryStart === -1 ? '' : rawUrl.slice(queryStart + 1));
  const protocolParams = new Map<string, string>();
  const query = new URLSearchParams();
  for (const [name, value] of search) {
    if (isProtocolParameter(name)) {
      const key = name.toLowerCase();
      if (!protocolParams.has(key)) protocolParams.set(key, value);
    } else {
      query.append(name, value);
    }
  }
  const headers = request.headers;
  const param = (name: string): string | undefined =>
    protocolParams.get(name.toLowerCase()) ?? headerValue(headers, name);

  const transportRaw = param(Headers.transport);
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

  const trackingRaw = param(Headers.trackingId);
  const adopt = trackingRaw !== undefined && trackingRaw !== '0' && TRACKING_ID_PATTERN.test(trackingRaw);
  const heartbeat = param(Headers.heartbeatServer);
  const heartbeatSeconds =
    heartbeat !== undefined && /^\d{1,9}$/.test(heartbeat.trim()) ? Number(heartbeat) : undefined;
  const received = param(Headers.received);
  const protocolParam = param(Headers.protocol);
  const wantsProtocol = protocolParam !== undefined && protocolParam.toLowerCase() !== 'false';

  return {
    method: request.method ?? 'GET',
    path,
    query,
    headers,
    trackingId: adopt ? trackingRaw : randomUUID(),
    firstRequest: !adopt,
    transport,
    framework: param(Headers.framework),
    wantsProtocol,
    handshake: wantsProtocol && trackingRaw !== undefined && !adopt,
    trackMessageLength: param(Headers.trackMessageSize)?.toLowerCase() === 'true',
    heartbeatSeconds,
    contentType: param(Headers.contentType),
    postBody: protocolParams.get(Headers.postBody.toLowerCase()),
    authToken: param(Headers.auth),
    sessionToken: param(Headers.sessionToken),
    runId: param(Headers.runId),
    received: received !== undefined && /^\d{1,15}$/.test(received) ? Number(received) : undefined,
    param,
    queryParam: (name: string) => protocolParams.get(name.toLowerCase()),
  };
}
