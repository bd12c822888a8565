import { type ClientTransportName } from '@atmosphere/protocol';
import type { ResolvedRequest } from '../core/request.ts';
import type { AtmosphereClientError } from '../errors.ts';

/** Response headers, where the transport can read them (not WebSocket, not EventSource). */
export interface HeaderReader {
  get(name: string): string | null;
}

/** What a transport reports to its subscription. Nothing is reported after `close()`. */
export interface TransportEvents {
  /** The server accepted the connection: WebSocket `open`, EventSource `open`, or a 2xx answer's headers. */
  opened(headers: HeaderReader | undefined): void;
  /** Text arrived: a WebSocket frame, an SSE event's data, a stream chunk, or a poll body. */
  text(text: string): void;
  /** A binary WebSocket frame. */
  binary(data: ArrayBuffer): void;
  /** A poll body ended: no message may remain half-read. */
  unitEnd(): void;
  /** The connection is over (refused, lost, ended by the server); `error` says how. Reported once. */
  ended(error: AtmosphereClientError): void;
}

/** What a transport needs from its subscription. */
export interface TransportContext {
  readonly request: ResolvedRequest;
  /** The URL to connect with now (current tracking id and received count). */
  connectUrl(transport: ClientTransportName | 'polling', queryHeaders: boolean): string;
  /** True when the next response must start with a handshake (first connection, protocol on). */
  readonly expectsHandshake: boolean;
}

/** One live (or opening) connection. */
export interface TransportConnection {
  readonly name: ClientTransportName;
  /** Sends on the connection itself (WebSocket only; the HTTP transports post). */
  send?(data: string | ArrayBuffer): void;
  /** Drops the connection without reporting `ended`; `code` is a WebSocket close code. */
  close(code?: number): void;
}

/** Opens a connection of one transport. Throws only for a programming error; failures go to `ended`. */
export type TransportOpener = (context: TransportContext, events: TransportEvents) => TransportConnection;
