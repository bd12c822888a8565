import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer } from 'ws';
import { AtmosphereHeaders, handshakeText } from '@atmosphere/protocol';
import { AtmosphereError } from '../errors.ts';
import { expectsHandshakeAgain, parseProtocolRequest } from '../protocol/request.ts';
import type { ConnectContext } from '../spi/interceptor.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import type { ConnectionSettings } from '../spi/resource.ts';
import { AtmosphereWebSocket, WebSocketConnection } from '../transports/websocket.ts';
import type { ServerCore } from './core.ts';
import type { Route, ServedResource } from './served-resource.ts';

/** What a new WebSocket needs from its upgrade request: copied out, so the request itself is not kept. */
interface Opening {
  protocol: ProtocolRequest;
  route: Route;
  existing: ServedResource | undefined;
  settings: Readonly<ConnectionSettings>;
  principal: unknown;
  authenticateFirstMessage: ((token: string) => Promise<unknown>) | undefined;
}

/** The WebSocket side of a managed path: the connect pipeline before the upgrade, the wiring after it. */
export class UpgradeServing {
  readonly #core: ServerCore;
  readonly #wss: WebSocketServer;
  readonly #firstMessageTimeoutMs: number;
  /** The protocol of upgrades in flight, for the response headers ws writes. */
  readonly #upgrading = new WeakMap<IncomingMessage, ProtocolRequest>();
  /** One listener for every upgrade socket until ws takes it over (a closure per socket would stay). */
  readonly #onSocketError = (error: Error): void => {
    this.#core.logger.debug('upgrade socket error', { error: error.message });
  };

  constructor(core: ServerCore, options: { maxMessageBytes: number; firstMessageTimeoutMs: number }) {
    this.#core = core;
    this.#firstMessageTimeoutMs = options.firstMessageTimeoutMs;
    this.#wss = new WebSocketServer({
      noServer: true,
      maxPayload: options.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // Pings are answered by AtmosphereWebSocket: ws's own answer keeps a closure per socket.
      autoPong: false,
      WebSocket: AtmosphereWebSocket,
    });
    this.#wss.on('headers', (headers: string[], request: IncomingMessage) => {
      const protocol = this.#upgrading.get(request);
      if (!protocol) return;
      headers.push(`${AtmosphereHeaders.trackingId}: ${protocol.trackingId}`);
      if (protocol.firstRequest) headers.push(`${AtmosphereHeaders.firstRequest}: true`);
    });
  }

  /** Upgrades a request for a managed path; a refusal is answered as plain HTTP. */
  /**
   * Upgrades a request for a managed path; a refusal is answered as plain HTTP. Synchronous unless an
   * interceptor is not: no promise or extra turn per connection (a flood of connections makes garbage enough).
   */
  serve(request: IncomingMessage, socket: Duplex, head: Buffer, route: Route): void {
    socket.on('error', this.#onSocketError);
    try {
      const core = this.#core;
      if (core.closing)
        throw new AtmosphereError('SHUTTING_DOWN', 'The server is shutting down.', { status: 503 });
      const protocol = parseProtocolRequest(request, true, route.path);
      if (protocol.transport !== 'websocket') {
        throw new AtmosphereError(
          'BAD_REQUEST',
          `An Upgrade request must use the websocket transport, not ${protocol.transport}.`,
          { status: 400 },
        );
      }
      const existing = core.resources.get(protocol.trackingId);
      const connecting = core.connect(protocol, request, true, existing);
      if (connecting instanceof Promise) {
        connecting
          .then((context) => this.#upgrade(request, socket, head, route, protocol, existing, context))
          .catch((error: unknown) => this.#refuse(socket, error));
        return;
      }
      this.#upgrade(request, socket, head, route, protocol, existing, connecting);
    } catch (error) {
      this.#refuse(socket, error);
    }
  }

  #refuse(socket: Duplex, error: unknown): void {
    const known = AtmosphereError.isInstance(error);
    if (!known) this.#core.logger.error('upgrade failed', { error });
    rejectUpgrade(
      socket,
      known ? (error.status ?? 400) : 500,
      known ? error.message : 'Internal Server Error',
      known ? error.headers : undefined,
    );
  }

  /** The connect pipeline accepted the request: the WebSocket handshake. */
  #upgrade(
    request: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    route: Route,
    protocol: ProtocolRequest,
    existing: ServedResource | undefined,
    context: ConnectContext,
  ): void {
    const core = this.#core;
    if (socket.destroyed) return;
    const opening: Opening = {
      protocol,
      route,
      existing,
      settings: core.sharedSettings(context.settings),
      principal: context.principal,
      authenticateFirstMessage: context.authenticateFirstMessage,
    };
    this.#upgrading.set(request, protocol);
    this.#wss.handleUpgrade(request, socket, head, (ws) => {
      this.#upgrading.delete(request);
      this.#opened(ws as AtmosphereWebSocket, socket, opening);
    });
  }

  /**
   * Wires a new WebSocket to its resource. Deliberately apart from `#serve`: whatever lives as long as the
   * connection is created here, in a scope that holds neither the upgrade request nor the connect context.
   */
  #opened(ws: AtmosphereWebSocket, socket: Duplex, opening: Opening): void {
    const core = this.#core;
    if (core.closing) {
      ws.close(1001, 'Server shutting down');
      return;
    }
    // ws listens for socket errors from now on.
    socket.off('error', this.#onSocketError);
    const { protocol, route, existing, settings } = opening;
    const connection = new WebSocketConnection(ws, socket, protocol.trackMessageLength);
    const isNew = existing === undefined || existing.state === 'closed';
    const resource = core.resourceFor(protocol, route, settings, opening.principal, existing);
    // atmosphere.js 5 reads a handshake first after every reconnect, too (`expectsHandshakeAgain`).
    if (protocol.handshake || expectsHandshakeAgain(protocol))
      connection.writeRaw(handshakeText(protocol.trackingId, settings.clientHeartbeatMs));
    const session = core.sessionFrameFor(protocol);
    if (session !== undefined) connection.writeRaw(session);
    const authenticate = opening.authenticateFirstMessage;
    if (authenticate) {
      resource.pendingAuth = authenticate;
      const timeout = setTimeout(() => {
        if (resource.pendingAuth === undefined) return;
        resource.expire('server-closed', 4401, 'Unauthorized: no auth token');
      }, this.#firstMessageTimeoutMs);
      timeout.unref();
      resource.attach(connection, protocol, settings);
      return;
    }
    resource.attach(connection, protocol, settings);
    core.afterConnect(resource, route, isNew);
    resource.flush();
  }

  close(): void {
    this.#wss.close();
  }
}

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  413: 'Payload Too Large',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

/** Answers a refused upgrade with a plain HTTP response and closes the socket. */
export function rejectUpgrade(
  socket: Duplex,
  status: number,
  message: string,
  headers: Readonly<Record<string, string>> = {},
): void {
  if (socket.destroyed) return;
  const body = message;
  const lines = [
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? 'Error'}`,
    'Connection: close',
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    ...Object.entries({
      [AtmosphereHeaders.error]: message.replace(/[^\x20-\x7e]/g, '?').slice(0, 200),
      ...headers,
    }).map(([k, v]) => `${k}: ${v}`),
  ];
  socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
}
