import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { OutboundMessage } from '../broadcast/message.ts';
import { PADDING_CHAR } from '../protocol/constants.ts';
import { lengthPrefixed } from '../protocol/framing.ts';
import type { Connection, ConnectionEnd } from './connection.ts';

const TEXT = { binary: false } as const;
const BINARY = { binary: true } as const;

/**
 * A close code a client sends to say it is coming back (a browser may only send 1000 and 3000–4999, so
 * this is how a page suspends its connection and keeps its session).
 */
export const CLOSE_COMING_BACK = 4000;

/**
 * Close codes a client sends when it leaves for good: ≤ 1001 or > 1006 (PROTOCOL.md §5). 1002–1005 are
 * transient, and so are 1006 (no close frame at all: the network dropped) and 4000 (coming back).
 */
export function isDeliberateClose(code: number): boolean {
  return (code <= 1001 || code > 1006) && code !== CLOSE_COMING_BACK;
}

/** A WebSocket connection (the `ws` library, server side). */
export class WebSocketConnection implements Connection {
  readonly transport = 'websocket' as const;
  readonly framed: boolean;
  wroteSinceCheck = false;
  onDrain: (() => void) | undefined;
  onEnd: ((how: ConnectionEnd) => void) | undefined;
  /** Called with a seq when the client's pong confirms it received everything up to it. */
  onConfirm: ((seq: number) => void) | undefined;
  readonly #ws: WebSocket;
  readonly #socket: Duplex;
  readonly #heartbeat: string;
  #endedByServer = false;
  #probing = false;

  constructor(ws: WebSocket, socket: Duplex, framed: boolean) {
    this.#ws = ws;
    this.#socket = socket;
    this.framed = framed;
    this.#heartbeat = framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR;
    socket.on('drain', () => this.onDrain?.());
    ws.on('pong', (data: Buffer) => {
      this.#probing = false;
      const seq = Number(data.toString('latin1'));
      if (Number.isSafeInteger(seq)) this.onConfirm?.(seq);
    });
    ws.on('error', () => {
      // ws closes the socket itself after a protocol error (1002, 1007, 1009…); that is the server's doing.
      this.#endedByServer = true;
    });
    ws.on('close', (code: number) => {
      const how: ConnectionEnd = this.#endedByServer
        ? 'server-closed'
        : isDeliberateClose(code)
          ? 'client-closed'
          : 'lost';
      const onEnd = this.onEnd;
      this.onEnd = undefined;
      this.onDrain = undefined;
      onEnd?.(how);
    });
  }

  get ws(): WebSocket {
    return this.#ws;
  }

  get open(): boolean {
    return this.#ws.readyState === WebSocket.OPEN;
  }

  get writable(): boolean {
    return this.#ws.readyState === WebSocket.OPEN && !this.#socket.writableNeedDrain;
  }

  write(message: OutboundMessage): void {
    if (message.binary) this.#ws.send(message.bytes('binary'), BINARY);
    else this.#ws.send(message.bytes(this.framed ? 'framed' : 'plain'), TEXT);
  }

  /** Writes a text frame outside the message queue (the handshake, error notices). */
  writeRaw(text: string): void {
    if (this.open) this.#ws.send(this.framed ? lengthPrefixed(text) : text);
  }

  heartbeat(): void {
    if (this.open) this.#ws.send(this.#heartbeat);
  }

  /** Asks the client to confirm receipt of everything up to `seq` (a ping whose pong carries it back). */
  probe(seq: number): void {
    if (this.#probing || !this.open) return;
    this.#probing = true;
    this.#ws.ping(String(seq));
  }

  end(code = 1000, reason = ''): void {
    if (this.#ws.readyState === WebSocket.CLOSED || this.#ws.readyState === WebSocket.CLOSING) return;
    this.#endedByServer = true;
    // Reasons are limited to 123 bytes by the protocol.
    const text = Buffer.byteLength(reason) > 123 ? reason.slice(0, 60) : reason;
    this.#ws.close(code, text);
    // A client that never answers the close frame must not hold the socket forever.
    const timer = setTimeout(() => this.#ws.terminate(), 5_000);
    timer.unref();
    this.#ws.once('close', () => clearTimeout(timer));
  }

  /** Drops the connection at once, without a close handshake. */
  terminate(): void {
    this.#endedByServer = true;
    this.#ws.terminate();
  }
}
