import { type ClientTransportName, type Handshake, ProtocolError } from '@atmosphere/protocol';
import { AtmosphereClientError } from '../errors.ts';
import { InboundDecoder, type InboundSink } from '../protocol/inbound.ts';
import { hasWebSocket, openWebSocket } from '../transports/websocket.ts';
import { openSse } from '../transports/sse.ts';
import { openStreaming } from '../transports/streaming.ts';
import { openLongPolling } from '../transports/long-polling.ts';
import type {
  HeaderReader,
  TransportConnection,
  TransportContext,
  TransportEvents,
  TransportOpener,
} from '../transports/transport.ts';
import type { ResolvedRequest } from './request.ts';

/** The transports by name. */
export const OPENERS: Readonly<Record<ClientTransportName, TransportOpener>> = {
  websocket: openWebSocket,
  sse: openSse,
  streaming: openStreaming,
  'long-polling': openLongPolling,
};

/** Why a transport cannot run on this platform, or undefined when it can. */
export function unavailable(transport: ClientTransportName): string | undefined {
  if (transport === 'websocket') return hasWebSocket() ? undefined : 'this platform has no WebSocket';
  if (typeof globalThis.fetch !== 'function') return 'this platform has no fetch';
  if (transport !== 'long-polling' && typeof ReadableStream !== 'function')
    return 'this platform has no ReadableStream';
  return undefined;
}

/** One connection attempt of a subscription, from opening to its end. */
export class Attempt {
  readonly transport: ClientTransportName;
  readonly decoder: InboundDecoder;
  connection: TransportConnection | undefined;
  /** Open: the transport opened and the handshake (when expected) arrived. */
  open = false;
  openedAt = 0;
  /** Messages delivered to the application on this connection. */
  delivered = 0;
  connectTimer: ReturnType<typeof setTimeout> | undefined;

  readonly #request: ResolvedRequest;
  readonly #expectsHandshake: boolean;

  /** `firstConnection`: no tracking id yet, so the server sends the handshake (when the protocol is on). */
  constructor(
    transport: ClientTransportName,
    request: ResolvedRequest,
    firstConnection: boolean,
    paddingChar: string,
  ) {
    this.transport = transport;
    this.#request = request;
    this.#expectsHandshake = request.enableProtocol && firstConnection;
    this.decoder = new InboundDecoder({
      framed: request.trackMessageLength,
      expectHandshake: this.#expectsHandshake,
      maxMessageSize: request.maxMessageSize,
      paddingChar,
    });
  }

  /**
   * Opens the transport (or reports at once, through `callbacks.failed`, that it cannot run here) and
   * starts the connect timeout. `connectUrl` builds each request's URL when it is made.
   */
  start(connectUrl: TransportContext['connectUrl'], callbacks: AttemptCallbacks): void {
    const { transport } = this;
    const request = this.#request;
    const missing = unavailable(transport);
    if (missing !== undefined) {
      callbacks.failed(
        new AtmosphereClientError(
          'UNSUPPORTED_TRANSPORT',
          `The ${transport} transport cannot run: ${missing}.`,
        ),
      );
      return;
    }
    if (request.connectTimeout > 0) {
      this.connectTimer = setTimeout(() => {
        const message = `The ${transport} connection did not open within ${request.connectTimeout} ms (option \`connectTimeout\`).`;
        if (callbacks.current()) callbacks.failed(new AtmosphereClientError('CONNECT_TIMEOUT', message));
      }, request.connectTimeout);
    }
    const context: TransportContext = { request, expectsHandshake: this.#expectsHandshake, connectUrl };
    try {
      this.connection = OPENERS[transport](context, attemptEvents(this, callbacks));
    } catch (error) {
      const message = `The ${transport} connection could not be created: ${String(error)}.`;
      callbacks.failed(new AtmosphereClientError('TRANSPORT_FAILED', message, { cause: error }));
    }
  }

  /** Marks the attempt open (the connect timeout no longer applies). */
  markOpen(): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    this.open = true;
    this.openedAt = Date.now();
  }

  /** Stops the connect timer and drops the connection (without it reporting anything). */
  dispose(code?: number): void {
    if (this.connectTimer !== undefined) clearTimeout(this.connectTimer);
    this.connectTimer = undefined;
    const connection = this.connection;
    this.connection = undefined;
    connection?.close(code);
  }
}

/** One pass over the fallback chain: the candidates, which one is being tried, which failed. */
export interface Round {
  readonly candidates: readonly ClientTransportName[];
  index: number;
  readonly failed: ClientTransportName[];
}

/** What an attempt reports to its subscription (each call only while the attempt is the current one). */
export interface AttemptCallbacks {
  /** Whether the attempt is still the subscription's current one. */
  current(): boolean;
  /** Data (or an answer) arrived: the connection is alive. */
  data(): void;
  headers(headers: HeaderReader): void;
  handshake(handshake: Handshake): void;
  message(body: string | ArrayBuffer): void;
  /** The transport opened and no handshake is awaited (or it arrived). */
  opened(): void;
  /** The attempt failed or its connection ended (bad inbound data included). */
  failed(error: AtmosphereClientError): void;
}

function inboundError(cause: unknown): AtmosphereClientError {
  if (AtmosphereClientError.isInstance(cause)) return cause;
  if (ProtocolError.isInstance(cause))
    return new AtmosphereClientError(
      cause.code === 'MESSAGE_TOO_LARGE' ? 'MESSAGE_TOO_LARGE' : 'PROTOCOL_ERROR',
      cause.message,
      { cause },
    );
  return new AtmosphereClientError('PROTOCOL_ERROR', `Inbound data could not be read: ${String(cause)}.`, {
    cause,
  });
}

/** The transport events of an attempt: decoding inbound text, and reporting to the subscription. */
export function attemptEvents(attempt: Attempt, callbacks: AttemptCallbacks): TransportEvents {
  const sink: InboundSink = {
    handshake: (handshake) => callbacks.handshake(handshake),
    message: (text) => callbacks.message(text),
    heartbeat: () => undefined,
  };
  return {
    opened: (headers) => {
      if (!callbacks.current()) return;
      callbacks.data();
      if (headers) callbacks.headers(headers);
      if (!attempt.decoder.awaitingHandshake) callbacks.opened();
    },
    text: (text) => {
      if (!callbacks.current()) return;
      callbacks.data();
      try {
        attempt.decoder.push(text, sink);
      } catch (error) {
        callbacks.failed(inboundError(error));
      }
    },
    binary: (data) => {
      if (!callbacks.current()) return;
      callbacks.data();
      if (attempt.open) callbacks.message(data);
    },
    unitEnd: () => {
      if (!callbacks.current()) return;
      try {
        attempt.decoder.endUnit();
      } catch (error) {
        callbacks.failed(inboundError(error));
      }
    },
    ended: (error) => {
      if (callbacks.current()) callbacks.failed(error);
    },
  };
}
