import type { IncomingMessage } from 'node:http';
import { AtmosphereHeaders } from '@atmosphere/protocol';

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

function sameOrigin(origin: string, request: IncomingMessage): boolean {
  const host = request.headers.host;
  if (!host) return false;
  try {
    return new URL(origin).host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

/** True when a request may proceed under the policy. */
export function isOriginAllowed(policy: OriginPolicy, request: IncomingMessage): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return true;
  if (policy === '*') return true;
  if (policy === 'same-origin') return sameOrigin(origin, request);
  if (typeof policy === 'function') return policy(origin, request);
  return sameOrigin(origin, request) || policy.includes(origin);
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
