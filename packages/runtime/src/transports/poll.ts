import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { lengthPrefixed, PADDING_CHAR } from '@atmosphere/protocol';
import type { EncodedMessage } from '../delivery/encoded-message.ts';
import type { ProtocolRequest } from '../spi/request.ts';
import { HttpConnection, responseHeaders, STREAMING_PADDING_BYTES, TEXT_PLAIN } from './http.ts';

const PLAIN_HEARTBEAT = Buffer.from(PADDING_CHAR);
const FRAMED_HEARTBEAT = Buffer.from(lengthPrefixed(PADDING_CHAR));

/**
 * One long-poll (or one plain poll). While the poll is being opened (the resource attaching and writing
 * what was pending), messages are collected; `opened()` then answers at once with all of them in one write
 * (with a Content-Length). With nothing to send, a plain poll answers empty and a long-poll writes its
 * headers and padding and waits. A waiting poll that gets a message completes on the next turn of the
 * event loop, so every message of that turn goes in the same response; its socket stays corked from that
 * message until the response ends, so they leave in one write with the end of the response. A heartbeat
 * also completes it.
 */
export class PollConnection extends HttpConnection {
  readonly transport: 'long-polling' | 'polling';
  readonly #request: ProtocolRequest;
  readonly #raw: IncomingMessage;
  /** Messages written while the poll is being opened; undefined once it is open. */
  #collected: Buffer[] | undefined = [];
  /** The status line and headers are written (or about to be, with the whole answer). */
  #started = false;
  #completing = false;
  #corkedSocket: Duplex | undefined;
  /** The whole answer, written by `endResponse`. */
  #body: Buffer | undefined;

  constructor(
    response: ServerResponse,
    request: ProtocolRequest,
    raw: IncomingMessage,
    transport: 'long-polling' | 'polling',
  ) {
    super(response, request.trackMessageLength);
    this.transport = transport;
    this.#request = request;
    this.#raw = raw;
  }

  protected override get completes(): boolean {
    return true;
  }

  /**
   * The resource has written what was waiting for it: answer with it now, or (long-polling, nothing to
   * send) wait for the next message.
   */
  opened(): void {
    const collected = this.#collected;
    if (collected === undefined) return;
    this.#collected = undefined;
    if (collected.length > 0 || this.transport === 'polling') this.#answer(collected);
    // Status, headers and padding at once, as the protocol has it: the client (and a browser, which would
    // otherwise retry an unanswered GET on a cut connection without telling it) knows the poll is open.
    else this.#start();
  }

  /** Answers the poll with just `text` and completes it (the long-polling handshake). */
  answer(text: string): void {
    this.#collected = undefined;
    this.#answer([Buffer.from(text)]);
  }

  write(message: EncodedMessage): void {
    const bytes = message.bytes(this.framed ? 'framed' : 'plain');
    if (this.#collected !== undefined) {
      this.#collected.push(bytes);
      return;
    }
    if (this.#corkedSocket === undefined) {
      const socket = this.response.socket;
      if (socket) {
        socket.cork();
        this.#corkedSocket = socket;
      }
    }
    this.#start();
    this.response.write(bytes);
    this.#completeSoon();
  }

  heartbeat(): void {
    if (!this.open) return;
    const heartbeat = this.framed ? FRAMED_HEARTBEAT : PLAIN_HEARTBEAT;
    if (!this.#started) {
      this.#collected = undefined;
      this.#answer([heartbeat]);
      return;
    }
    this.response.write(heartbeat);
    this.end();
  }

  /** Text outside the message queue (the session frame): first in the answer while the poll opens. */
  override writeRaw(text: string): void {
    if (this.#collected !== undefined) {
      this.#collected.push(Buffer.from(this.frameRaw(text)));
      return;
    }
    super.writeRaw(text);
  }

  protected frameRaw(text: string): string {
    return this.framed ? lengthPrefixed(text) : text;
  }

  /** The status line, headers and (long-polling) padding. Plain polls have no padding. */
  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.response.writeHead(200, responseHeaders(this.#request, this.#raw, TEXT_PLAIN));
    // Every long-poll response starts with the streaming padding (never framed).
    if (this.transport === 'long-polling') this.response.write(STREAMING_PADDING_BYTES);
  }

  /** The whole response in one write: headers with a Content-Length, the padding and `frames`. */
  #answer(frames: Buffer[]): void {
    if (!this.open || this.#started) return;
    this.#started = true;
    const parts = this.transport === 'long-polling' ? [STREAMING_PADDING_BYTES, ...frames] : frames;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const headers = responseHeaders(this.#request, this.#raw, TEXT_PLAIN);
    headers.push('Content-Length', String(body.length));
    this.response.writeHead(200, headers);
    this.#body = body;
    this.end();
  }

  protected override endResponse(): void {
    const body = this.#body;
    this.#body = undefined;
    if (body !== undefined) {
      this.response.end(body);
    } else {
      // Ended before anything was written (a poll refused while it opened): still a proper answer.
      if (!this.response.destroyed) this.#start();
      this.response.end();
    }
    const socket = this.#corkedSocket;
    if (socket !== undefined) {
      this.#corkedSocket = undefined;
      socket.uncork();
    }
  }

  #completeSoon(): void {
    if (this.#completing) return;
    this.#completing = true;
    setImmediate(() => this.end());
  }
}
