import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { AuthInfo } from '@modelcontextprotocol/sdk/server/auth/types.js';
import { isInitializeRequest, LATEST_PROTOCOL_VERSION } from '@modelcontextprotocol/sdk/types.js';
import type { RoomManager } from '@atmosphere/rooms';
import { type Atmosphere, AtmosphereError, type HttpRoute } from '@atmosphere/runtime';
import { WebSocketServer, type WebSocket } from 'ws';
import { LogEventStore } from './event-store.ts';
import { JSON_RPC, JsonRpcFailure, parseJsonRpc, readBody, sendFailure } from './json-rpc.ts';
import type { McpPrincipal, McpServerOptions } from './options.ts';
import { MCP_ENDPOINTS_KIND } from './registry.ts';
import { rateKey, RequestGuard, type ResolvedSecurity, resolveSecurity } from './security.ts';
import { McpSession, type SessionHost } from './session.ts';
import { MCP_SUBPROTOCOL, WebSocketServerTransport } from './websocket-transport.ts';

const SESSION_HEADER = 'mcp-session-id';
const CORS_HEADERS = 'Content-Type, Authorization, Mcp-Session-Id, Mcp-Protocol-Version, Last-Event-ID';

/** What {@link McpEndpoint.describe} reports. */
export interface McpEndpointDescription {
  readonly name: string;
  readonly version: string;
  readonly path: string;
  /** `http://…/mcp` when the server listens, else the path. */
  readonly streamableHttp: string;
  /** `ws://…/mcp`, or undefined when WebSocket is off. */
  readonly websocket: string | undefined;
  readonly protocolVersion: string;
  readonly sessions: { readonly streamableHttp: number; readonly websocket: number };
  /** The stream log behind resumability, or undefined when off. */
  readonly resumability: { readonly log: string; readonly durable: boolean } | undefined;
  readonly auth: 'bearer' | 'none';
  readonly loopbackOnly: boolean;
}

/** Generates a session id: 192 bits from the CSPRNG, base64url. */
export function newSessionId(): string {
  return randomBytes(24).toString('base64url');
}

function authInfo(principal: McpPrincipal, token: string | undefined): AuthInfo {
  return {
    token: token ?? '',
    clientId: principal.id,
    scopes: [...(principal.scopes ?? [])],
    extra: { principal },
  };
}

function bearer(request: IncomingMessage): string | undefined {
  return /^Bearer[ ]+(\S+)/i.exec(request.headers.authorization ?? '')?.[1];
}

/**
 * An MCP endpoint on an Atmosphere server: Streamable HTTP (POST, GET, DELETE) and WebSocket on one path,
 * sessions bound to their principal, resumable streams on the stream log. Made by {@link mcpServer}.
 */
export class McpEndpoint implements SessionHost {
  readonly atmosphere: Atmosphere;
  readonly options: McpServerOptions;
  readonly path: string;
  readonly #security: ResolvedSecurity;
  readonly #guard: RequestGuard;
  readonly #sessions = new Map<string, McpSession>();
  readonly #route: HttpRoute;
  readonly #wss: WebSocketServer | undefined;
  readonly #sweeper: NodeJS.Timeout;
  #roomManager: Promise<RoomManager> | undefined;
  #closing: Promise<void> | undefined;

  constructor(atmosphere: Atmosphere, options: McpServerOptions) {
    if (typeof options.path !== 'string' || !options.path.startsWith('/')) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        `mcpServer: \`path\` must start with "/"; got ${JSON.stringify(options.path)}.`,
      );
    }
    if (!options.name || !options.version) {
      throw new AtmosphereError(
        'INVALID_OPTION',
        'mcpServer: `name` and `version` are required (they answer `initialize`).',
      );
    }
    this.atmosphere = atmosphere;
    this.options = options;
    this.path = options.path;
    this.#security = resolveSecurity(options.security);
    this.#guard = new RequestGuard(this.#security, options.auth, atmosphere.logger);
    if (options.rooms) this.#roomManager = Promise.resolve(options.rooms);
    this.#wss =
      options.websocket === false
        ? undefined
        : new WebSocketServer({
            noServer: true,
            maxPayload: this.#security.maxMessageBytes,
            handleProtocols: (protocols) => (protocols.has(MCP_SUBPROTOCOL) ? MCP_SUBPROTOCOL : false),
          });
    this.#route = atmosphere.handle(options.path, {
      request: (request, response) => this.#request(request, response),
      upgrade: (request, socket, head) => this.#upgrade(request, socket, head),
      // atmosphere.close() ends the sessions and their streams before the providers (the log) close.
      close: () => this.close(),
    });
    this.#sweeper = setInterval(() => this.#sweep(), Math.min(60_000, this.#security.sessionIdleMs / 2));
    this.#sweeper.unref();
    atmosphere.provider(MCP_ENDPOINTS_KIND)?.add(this);
    atmosphere.logger.info(this.#startupLine());
  }

  #startupLine(): string {
    const d = this.describe();
    const resumable = d.resumability ? `resumable on the ${d.resumability.log} stream log` : 'not resumable';
    return (
      `MCP server ${d.name} ${d.version} on ${d.streamableHttp} (Streamable HTTP, protocol ${d.protocolVersion}, ${resumable})` +
      (d.websocket ? ` and ${d.websocket} (WebSocket, subprotocol ${MCP_SUBPROTOCOL})` : '') +
      `; ${d.loopbackOnly ? 'loopback clients only' : 'remote clients allowed'}; auth: ${d.auth}`
    );
  }

  /** The rooms behind the room resources: the option, or the instance's manager (`@atmosphere/rooms`). */
  readonly rooms = (): Promise<RoomManager> => {
    this.#roomManager ??= import('@atmosphere/rooms').then(
      (module) => module.RoomManager.for(this.atmosphere),
      (error: unknown) => {
        this.#roomManager = undefined;
        throw new AtmosphereError(
          'PROVIDER_UNAVAILABLE',
          'Room resources need @atmosphere/rooms: install it beside @atmosphere/mcp, or pass `rooms: false`.',
          { cause: error },
        );
      },
    );
    return this.#roomManager;
  };

  /** @internal A session ended. */
  ended(session: McpSession): void {
    if (this.#sessions.get(session.id) === session) this.#sessions.delete(session.id);
  }

  /** Sends `notifications/resources/updated` for `uri` to every session subscribed to it. */
  notifyResourceUpdated(uri: string): void {
    for (const session of this.#sessions.values()) session.notifyResourceUpdated(uri);
  }

  /** Open sessions (both transports). */
  get sessionCount(): number {
    return this.#sessions.size;
  }

  describe(): McpEndpointDescription {
    let http = this.path;
    let ws: string | undefined = this.#wss ? this.path : undefined;
    if (this.atmosphere.address()) {
      http = this.atmosphere.url(this.path);
      if (ws) ws = this.atmosphere.url(this.path, 'ws');
    }
    let streamableHttp = 0;
    let websocket = 0;
    for (const session of this.#sessions.values()) {
      if (session.kind === 'websocket') websocket++;
      else streamableHttp++;
    }
    const log = this.atmosphere.log;
    return {
      name: this.options.name,
      version: this.options.version,
      path: this.path,
      streamableHttp: http,
      websocket: ws,
      protocolVersion: LATEST_PROTOCOL_VERSION,
      sessions: { streamableHttp, websocket },
      resumability: this.options.resumable === false ? undefined : { log: log.name, durable: log.durable },
      auth: this.options.auth ? 'bearer' : 'none',
      loopbackOnly: !this.#security.allowRemote,
    };
  }

  // ------------------------------------------------------------------------------------ Streamable HTTP

  #cors(request: IncomingMessage, response: ServerResponse): void {
    const origin = request.headers.origin;
    if (origin === undefined) return;
    response.setHeader('Access-Control-Allow-Origin', origin);
    response.setHeader('Vary', 'Origin');
    response.setHeader(
      'Access-Control-Expose-Headers',
      'Mcp-Session-Id, Mcp-Protocol-Version, WWW-Authenticate',
    );
  }

  async #request(request: IncomingMessage, response: ServerResponse): Promise<void> {
    try {
      if (this.#closing)
        throw new JsonRpcFailure(
          503,
          JSON_RPC.serverError,
          'Service unavailable: the MCP endpoint is closing.',
        );
      this.#guard.checkOrigin(request);
      this.#cors(request, response);
      if (request.method === 'OPTIONS') {
        response.writeHead(204, {
          'Access-Control-Allow-Methods': 'GET, POST, DELETE',
          'Access-Control-Allow-Headers': CORS_HEADERS,
          'Access-Control-Max-Age': '600',
        });
        response.end();
        return;
      }
      const principal = await this.#guard.authenticate(request);
      this.#guard.limit(rateKey(principal, request));
      (request as IncomingMessage & { auth?: AuthInfo }).auth = authInfo(principal, bearer(request));
      switch (request.method) {
        case 'POST':
          await this.#post(request, response, principal);
          return;
        case 'GET':
        case 'DELETE':
          await this.#serve(this.#session(request, principal), request, response);
          return;
        default:
          throw new JsonRpcFailure(
            405,
            JSON_RPC.serverError,
            'Method not allowed: use POST, GET or DELETE.',
            {
              Allow: 'GET, POST, DELETE, OPTIONS',
            },
          );
      }
    } catch (error) {
      if (error instanceof JsonRpcFailure) {
        sendFailure(response, error);
        return;
      }
      this.atmosphere.logger.error('mcp: a request failed', { error });
      sendFailure(response, new JsonRpcFailure(500, -32603, 'Internal error.'));
    }
  }

  /** The session a request names, bound to the same principal; 400 without the header, 404 otherwise. */
  #session(request: IncomingMessage, principal: McpPrincipal): McpSession {
    const id = request.headers[SESSION_HEADER];
    if (typeof id !== 'string' || id === '') {
      throw new JsonRpcFailure(
        400,
        JSON_RPC.serverError,
        'Bad Request: the Mcp-Session-Id header is required (initialize first).',
      );
    }
    const session = this.#sessions.get(id);
    // A session of another principal is "not found" too: its existence is not disclosed.
    if (!session || session.kind !== 'streamable-http' || session.principal.id !== principal.id) {
      throw new JsonRpcFailure(404, JSON_RPC.sessionNotFound, 'Session not found: initialize a new session.');
    }
    return session;
  }

  async #post(request: IncomingMessage, response: ServerResponse, principal: McpPrincipal): Promise<void> {
    const body = parseJsonRpc(
      await readBody(request, this.#security.maxMessageBytes),
      this.#security.maxJsonDepth,
    );
    if (request.headers[SESSION_HEADER] !== undefined || !isInitializeRequest(body)) {
      await this.#serve(this.#session(request, principal), request, response, body);
      return;
    }
    if (this.#sessions.size >= this.#security.maxSessions) {
      throw new JsonRpcFailure(
        503,
        JSON_RPC.serverError,
        'Service unavailable: too many MCP sessions (option `security.maxSessions`).',
      );
    }
    const id = newSessionId();
    const eventStore =
      this.options.resumable === false
        ? undefined
        : new LogEventStore(this.atmosphere.log, `${this.path}:${id}`);
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => id,
      ...(eventStore ? { eventStore } : {}),
      retryInterval: this.options.retryIntervalMs ?? 1000,
      maxRequestBodySize: this.#security.maxMessageBytes,
    });
    const session = new McpSession(this, {
      id,
      kind: 'streamable-http',
      principal,
      transport,
      ...(eventStore ? { eventStore } : {}),
    });
    this.#sessions.set(id, session);
    await session.connect();
    await this.#serve(session, request, response, body);
  }

  async #serve(
    session: McpSession,
    request: IncomingMessage,
    response: ServerResponse,
    body?: unknown,
  ): Promise<void> {
    session.active++;
    session.lastSeen = Date.now();
    response.once('close', () => {
      session.active--;
      session.lastSeen = Date.now();
    });
    await (session.transport as StreamableHTTPServerTransport).handleRequest(request, response, body);
  }

  // ------------------------------------------------------------------------------------------ WebSocket

  #upgrade(request: IncomingMessage, socket: Duplex, head: Buffer): void {
    const wss = this.#wss;
    const refuse = (failure: JsonRpcFailure): void => {
      const body = failure.body();
      if (socket.writable) {
        socket.end(
          `HTTP/1.1 ${failure.status} ${failure.status === 401 ? 'Unauthorized' : 'Refused'}\r\n` +
            Object.entries(failure.headers)
              .map(([key, value]) => `${key}: ${value}\r\n`)
              .join('') +
            `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
        );
      }
      socket.destroy();
    };
    if (!wss) {
      refuse(
        new JsonRpcFailure(
          404,
          JSON_RPC.serverError,
          'Not found: MCP over WebSocket is off (option `websocket`).',
        ),
      );
      return;
    }
    void (async () => {
      try {
        if (this.#closing)
          throw new JsonRpcFailure(
            503,
            JSON_RPC.serverError,
            'Service unavailable: the MCP endpoint is closing.',
          );
        this.#guard.checkOrigin(request);
        const principal = await this.#guard.authenticate(request);
        const key = rateKey(principal, request);
        this.#guard.limit(key);
        if (this.#sessions.size >= this.#security.maxSessions) {
          throw new JsonRpcFailure(
            503,
            JSON_RPC.serverError,
            'Service unavailable: too many MCP sessions (option `security.maxSessions`).',
          );
        }
        wss.handleUpgrade(request, socket, head, (ws: WebSocket) => {
          this.#openWebSocket(ws, principal, bearer(request), () => this.#guard.take(key));
        });
      } catch (error) {
        if (error instanceof JsonRpcFailure) refuse(error);
        else {
          this.atmosphere.logger.error('mcp: a WebSocket upgrade failed', { error });
          refuse(new JsonRpcFailure(500, -32603, 'Internal error.'));
        }
      }
    })();
  }

  #openWebSocket(
    ws: WebSocket,
    principal: McpPrincipal,
    token: string | undefined,
    take: () => boolean,
  ): void {
    const id = newSessionId();
    const transport = new WebSocketServerTransport(ws, {
      sessionId: id,
      maxJsonDepth: this.#security.maxJsonDepth,
      authInfo: authInfo(principal, token),
      take,
    });
    const session = new McpSession(this, { id, kind: 'websocket', principal, transport });
    this.#sessions.set(id, session);
    session.connect().catch((error: unknown) => {
      this.atmosphere.logger.error('mcp: a WebSocket session failed to start', { error });
      ws.terminate();
    });
  }

  // ------------------------------------------------------------------------------------------ upkeep

  #sweep(): void {
    const now = Date.now();
    this.#guard.sweep(now);
    for (const session of [...this.#sessions.values()]) {
      if (
        session.kind === 'streamable-http' &&
        session.active <= 0 &&
        now - session.lastSeen > this.#security.sessionIdleMs
      ) {
        void session.close();
      }
    }
  }

  /**
   * Stops serving: the route is removed (new requests are no longer served here), every session is closed
   * (open streams end, WebSockets close with 1001) and what their tools left is released. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close();
    return this.#closing;
  }

  async #close(): Promise<void> {
    clearInterval(this.#sweeper);
    this.#route.remove();
    this.atmosphere.provider(MCP_ENDPOINTS_KIND)?.delete(this);
    const closing = [...this.#sessions.values()].map((session) =>
      session.close().catch((error: unknown) => {
        this.atmosphere.logger.warn('mcp: a session failed to close', { error });
      }),
    );
    await Promise.all(closing);
    const wss = this.#wss;
    if (wss) {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

/**
 * Serves an MCP server on an Atmosphere server, at `options.path`: Streamable HTTP (protocol revision
 * 2025-11-25 and the earlier ones the SDK negotiates; sessions; resumable streams on the instance's stream log)
 * and MCP over WebSocket (subprotocol `mcp`). Every request passes the endpoint's checks first — loopback
 * clients only, `Host` and `Origin` allow-lists, the bearer-token hook, rate and size limits, untrusted-JSON
 * parsing — and each refusal is a JSON-RPC error. Tools get the Atmosphere side in their context
 * ({@link McpToolContext}): broadcasts, AI streams to browsers, rooms.
 *
 * Returns the endpoint; `close()` stops it (the `mcp-endpoints` provider closes it with the instance).
 */
export function mcpServer(atmosphere: Atmosphere, options: McpServerOptions): McpEndpoint {
  return new McpEndpoint(atmosphere, options);
}
