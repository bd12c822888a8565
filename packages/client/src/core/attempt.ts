import type { InboundDecoder } from '../protocol/inbound.ts';
import type { TransportName } from '../protocol/constants.ts';
import { hasWebSocket, openWebSocket } from '../transports/websocket.ts';
import { openSse } from '../transports/sse.ts';
import { openStreaming } from '../transports/streaming.ts';
import { openLongPolling } from '../transports/long-polling.ts';
import type { TransportConnection, TransportOpener } from '../transports/transport.ts';

/** The transports by name. */
export const OPENERS: Readonly<Record<TransportName, TransportOpener>> = {
  websocket: openWebSocket,
  sse: openSse,
  streaming: openStreaming,
  'long-polling': openLongPolling,
};

/** Why a transport cannot run on this platform, or undefined when it can. */
export function unavailable(transport: TransportName): string | undefined {
  if (transport === 'websocket') return hasWebSocket() ? undefined : 'this platform has no WebSocket';
  if (typeof globalThis.fetch !== 'function') return 'this platform has no fetch';
  if (transport !== 'long-polling' && typeof ReadableStream !== 'function') return 'this platform has no ReadableStream';
  return undefined;
}

/** One connection attempt of a subscription, from opening to its end. */
export class Attempt {
  readonly transport: TransportName;
  readonly decoder: InboundDecoder;
  connection: TransportConnection | undefined;
  /** Open: the transport opened and the handshake (when expected) arrived. */
  open = false;
  openedAt = 0;
  /** Messages delivered to the application on this connection. */
  delivered = 0;
  connectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(transport: TransportName, decoder: InboundDecoder) {
    this.transport = transport;
    this.decoder = decoder;
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
  readonly candidates: readonly TransportName[];
  index: number;
  readonly failed: TransportName[];
}
