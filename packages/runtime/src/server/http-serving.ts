import type { IncomingMessage, ServerResponse } from 'node:http';
import { AtmosphereHeaders, handshakeText, lengthPrefixed, NO_CACHE_HEADERS } from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import { tooLarge } from '../interceptors/builtins.ts';
import { preflightHeaders, type RequestGuard } from '../protocol/cors.ts';
import { expectsHandshakeAgain, parseProtocolRequest } from '../protocol/request.ts';
import type { ConnectContext } from '../spi/interceptor.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type { ConnectionSettings } from '../spi/resource.ts';
import { responseHeaders, sendText, SseConnection, StreamingConnection } from '../transports/http.ts';
import { PollConnection } from '../transports/poll.ts';
import type { ServerCore } from './core.ts';
import { EarlyPosts } from './early-posts.ts';
import type { Route, ServedResource } from './served-resource.ts';

/**
 * The HTTP side of a managed path: SSE, streaming, long-polling and polling requests, posts of client
 * messages, the close request, CORS preflights, and errors as HTTP answers.
 */
export class HttpServing {
  readonly #core: ServerCore;
  readonly #guard: RequestGuard;
  readonly #early = new EarlyPosts();

  constructor(core: ServerCore, guard: RequestGuard) {
    this.#core = core;
    this.#guard = guard;
  }

  /** Serves a request for a managed path; failures are answered with their status. */
  serve(request: IncomingMessage, response: ServerResponse, route: Route): void {
    let serving: Promise<void> | undefined;
    try {
      serving = this.#serve(request, response, route);
    } catch (error) {
      this.#respondError(response, error, request);
      return;
    }
    serving?.catch((error: unknown) => this.#respondError(response, error, request));
  }

  #respondError(response: ServerResponse, error: unknown, request: IncomingMessage): void {
    const known = AtmosphereError.isInstance(error);
    if (!known) this.#core.logger.error('request failed', { error });
    const status = known ? (error.status ?? 400) : 500;
    const message = known ? error.message : 'Internal Server Error';
    const headers: Record<string, string> = { ...(known ? error.headers : {}) };
    headers[AtmosphereHeaders.error] ??= message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200);
    if (request.headers.origin && this.#guard.allows(request)) {
      headers['Access-Control-Allow-Origin'] = request.headers.origin;
      headers['Access-Control-Expose-Headers'] = AtmosphereHeaders.error;
    }
    if (!response.headersSent) sendText(response, status, message, headers);
    else response.end();
  }

  #assertOrigin(request: IncomingMessage): void {
    try {
      this.#guard.check(request);
    } catch (error) {
      request.resume();
      throw error;
    }
  }

  /** Synchronous as far as it can go: a poll whose interceptors are all synchronous costs no extra turn. */
  #serve(request: IncomingMessage, response: ServerResponse, route: Route): Promise<void> | undefined {
    const core = this.#core;
    if (core.closing)
      throw new AtmosphereError('SHUTTING_DOWN', 'The server is shutting down.', { status: 503 });
    if (request.method === 'OPTIONS') {
      this.#assertOrigin(request);
      response.writeHead(204, { ...NO_CACHE_HEADERS, ...preflightHeaders(request) });
      response.end();
      return undefined;
    }
    const protocol = parseProtocolRequest(request, false, route.path);
    if (protocol.transport === 'close') {
      this.#assertOrigin(request);
      request.resume();
      this.#closeRequest(protocol);
      response.writeHead(200, responseHeaders(protocol, request));
      response.end();
      return undefined;
    }
    if (request.method === 'POST' || request.method === 'PUT' || protocol.postBody !== undefined) {
      return this.#post(request, response, protocol);
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      throw new AtmosphereError(
        'BAD_REQUEST',
        `Method ${request.method} is not supported; use GET, POST or OPTIONS.`,
        { status: 405 },
      );
    }
    if (protocol.transport === 'websocket') {
      throw new AtmosphereError(
        'BAD_REQUEST',
        'The websocket transport needs an Upgrade: websocket request.',
        { status: 400 },
      );
    }
    const existing = core.resources.get(protocol.trackingId);
    const connecting = core.connect(protocol, request, false, existing);
    if (connecting instanceof Promise) {
      return connecting.then((context) => this.#open(request, response, route, protocol, context, existing));
    }
    this.#open(request, response, route, protocol, connecting, existing);
    return undefined;
  }

  #open(
    request: IncomingMessage,
    response: ServerResponse,
    route: Route,
    protocol: ProtocolRequest,
    context: ConnectContext,
    existing: ServedResource | undefined,
  ): void {
    if (response.destroyed) return;
    const core = this.#core;
    const settings = core.sharedSettings(context.settings);
    const principal = context.principal;
    const isNew = existing === undefined || existing.state === 'closed';
    let connection: SseConnection | StreamingConnection | PollConnection;
    switch (protocol.transport) {
      case 'sse':
        connection = new SseConnection(response, protocol, request);
        break;
      case 'streaming':
        connection = new StreamingConnection(response, protocol, request);
        break;
      case 'long-polling':
      case 'polling':
        connection = new PollConnection(response, protocol, request, protocol.transport);
        break;
      case 'websocket':
      case 'close':
        return;
    }
    const handshake = protocol.handshake || handshakeAgain(protocol, existing);
    if (handshake && connection instanceof PollConnection) {
      // Long-polling: the handshake alone answers the first poll; the client polls again at once.
      const resource = core.resourceFor(protocol, route, settings, principal, existing);
      // The session frame rides in the same answer, framed (an unframed poll cannot carry two messages).
      const session = protocol.trackMessageLength ? core.sessionFrameFor(protocol) : undefined;
      connection.answer(
        handshakeFrame(protocol, settings) + (session === undefined ? '' : lengthPrefixed(session)),
      );
      resource.awaitConnection();
      core.afterConnect(resource, route, isNew);
      return;
    }
    const resource = core.resourceFor(protocol, route, settings, principal, existing);
    if (handshake) connection.writeRaw(handshakeText(protocol.trackingId, settings.clientHeartbeatMs));
    if (protocol.handshake && connection.transport !== 'long-polling' && connection.transport !== 'polling')
      this.#early.opened(resource, request, protocol);
    const session = core.sessionFrameFor(protocol);
    if (session !== undefined) connection.writeRaw(session);
    resource.attach(connection, protocol, settings);
    core.afterConnect(resource, route, isNew);
    resource.flush();
    // A poll answers now with what was written while it opened (one write), or waits for the next message.
    if (connection instanceof PollConnection) connection.opened();
  }

  async #post(request: IncomingMessage, response: ServerResponse, protocol: ProtocolRequest): Promise<void> {
    this.#assertOrigin(request);
    const core = this.#core;
    let resource: ServedResource | undefined;
    if (protocol.firstRequest) {
      // atmosphere.js 5 may post before it has read its handshake (tracking id 0): see EarlyPosts.
      resource = this.#early.find(request, protocol);
    } else {
      resource = core.resources.get(protocol.trackingId);
      this.#early.claimed(protocol.trackingId);
    }
    if (!resource || resource.state === 'closed') {
      request.resume();
      throw new AtmosphereError(
        'UNKNOWN_TRACKING_ID',
        `No connection with tracking id ${protocol.firstRequest ? '(none given)' : protocol.trackingId}: open one (GET) before posting.`,
        { status: 404 },
      );
    }
    const body = protocol.postBody ?? (await readBody(request, resource.settings.maxMessageBytes));
    try {
      await core.receiver.queued(resource, body);
    } catch (error) {
      core.receiver.postFailed(resource, error);
      throw error;
    }
    response.writeHead(200, responseHeaders(protocol, request));
    response.end();
  }

  #closeRequest(protocol: ProtocolRequest): void {
    const resource = protocol.firstRequest ? undefined : this.#core.resources.get(protocol.trackingId);
    if (!resource) return;
    this.#core.logger.debug(`resource ${resource.id}: closed by the client (close request)`);
    resource.expire('client-closed');
  }
}

/**
 * atmosphere.js 5 reads a handshake first after each reconnect (see `expectsHandshakeAgain`): on a stream
 * transport every new connection with a known id is one; on long-polling only a poll after a lost one (a
 * normal re-poll after a completed answer keeps its state), or one for a client the server no longer has.
 */
function handshakeAgain(protocol: ProtocolRequest, existing: ServedResource | undefined): boolean {
  if (protocol.transport === 'polling' || !expectsHandshakeAgain(protocol)) return false;
  if (protocol.transport !== 'long-polling') return true;
  return existing === undefined || existing.state === 'closed' || existing.lostSinceHandshake;
}

function handshakeFrame(protocol: ProtocolRequest, settings: ConnectionSettings): string {
  const text = handshakeText(protocol.trackingId, settings.clientHeartbeatMs);
  return protocol.trackMessageLength ? lengthPrefixed(text) : text;
}

function readBody(request: IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const declared = Number(request.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      request.resume();
      reject(tooLarge(declared, limit));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        request.removeAllListeners('data');
        request.resume();
        reject(tooLarge(undefined, limit));
        return;
      }
      chunks.push(chunk);
    });
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}
