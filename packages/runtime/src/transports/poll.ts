import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { OutboundMessage } from '../broadcast/message.ts';
import { PADDING_CHAR } from '../protocol/constants.ts';
import { lengthPrefixed } from '../protocol/framing.ts';
import type { ProtocolRequest } from '../protocol/request.ts';
import { HttpConnection, responseHeaders, STREAMING_PADDING_BYTES, TEXT_PLAIN } from './http.ts';

const PLAIN_HEARTBEAT = Buffer.from(PADDING_CHAR);
const FRAMED_HEARTBEAT = Buffer.from(lengthPrefixed(PADDING_CHAR));

/**
 * How long a long-poll with nothing to send waits before its status line, headers and padding go out. A
 * message arriving sooner is answered with them in one write, with a Content-Length — the usual case when
 * messages flow, and half the writes of sending the head at once.
 */
export const QUIET_POLL_HEAD_MS = 100;

/** Long-polls waiting without their head written: one timer for all of them. */
const quietPolls = new Set<PollConnection>();
let quietTimer: NodeJS.Timeout | undefined;

function startQuietPolls(): void {
  quietTimer = undefined;
  const polls = [...quietPolls];
  quietPolls.clear();
  for (const poll of polls) poll.startWaiting();
}

/**
 * One long-poll (or one plain poll). While the poll is being opened (the resource attaching and writing
 * what was pending), messages are collected; `opened()` then answers at once with all of them in one write
 * (with a Content-Length). With nothing to send, a plain poll answers empty and a long-poll waits: its
 * status line, headers and padding are written after {@link QUIET_POLL_HEAD_MS} (so the client, and a
 * browser that would otherwise retry an unanswered GET on a cut connection without telling it, knows the
 * poll is open), or with the first message if one comes sooner. A waiting poll that gets a message completes
 * on the next turn of the event loop, so every message of that turn goes in the same response: in one write
 * with the head when it was not written yet, or (the head already out) with the socket corked from that
 * message until the response ends. A heartbeat also completes it.
 */
export class PollConnection extends HttpConnection {
  readonly transport: 'long-polling' | 'polling';
  readonly #request: ProtocolRequest;
  readonly #raw: IncomingMessage;
  /** Messages written before the head is (while opening, then while waiting quietly). */
  #collected: Buffer[] | undefined = [];
  /** Opened and waiting for a message, head not written yet. */
  #quiet = false;
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
    if (collected === undefined || this.#quiet) return;
    if (collected.length > 0 || this.transport === 'polling') {
      this.#collected = undefined;
      this.#answer(collected);
      return;
    }
    this.#quiet = true;
    quietPolls.add(this);
    quietTimer ??= setTimeout(startQuietPolls, QUIET_POLL_HEAD_MS).unref();
  }

  /** A quiet poll's wait is long enough: write the head and padding now. */
  startWaiting(): void {
    if (!this.#quiet) return;
    this.#quiet = false;
    const collected = this.#collected;
    this.#collected = undefined;
    if (!this.open) return;
    this.#start();
    // Messages of this very turn (the completion is already scheduled) follow the head.
    if (collected !== undefined && collected.length > 0) {
      this.#cork();
      for (const bytes of collected) this.response.write(bytes);
    }
  }

  /** Answers the poll with just `text` and completes it (the long-polling handshake). */
  answer(text: string): void {
    this.#collected = undefined;
    this.#answer([Buffer.from(text)]);
  }

  write(message: OutboundMessage): void {
    const bytes = message.bytes(this.framed ? 'framed' : 'plain');
    if (this.#collected !== undefined) {
      this.#collected.push(bytes);
      if (this.#quiet) this.#completeSoon();
      return;
    }
    this.#cork();
    this.#start();
    this.response.write(bytes);
    this.#completeSoon();
  }

  heartbeat(): void {
    if (!this.open) return;
    const heartbeat = this.framed ? FRAMED_HEARTBEAT : PLAIN_HEARTBEAT;
    if (!this.#started) {
      const collected = this.#collected ?? [];
      this.#unquiet();
      this.#collected = undefined;
      collected.push(heartbeat);
      this.#answer(collected);
      return;
    }
    this.response.write(heartbeat);
    this.end();
  }

  protected frameRaw(text: string): string {
    return this.framed ? lengthPrefixed(text) : text;
  }

  #unquiet(): void {
    if (!this.#quiet) return;
    this.#quiet = false;
    quietPolls.delete(this);
  }

  #cork(): void {
    if (this.#corkedSocket !== undefined) return;
    const socket = this.response.socket;
    if (socket) {
      socket.cork();
      this.#corkedSocket = socket;
    }
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
    this.#body = this.#wholeResponseHead(frames);
    this.end();
  }

  /** Writes the head of a response whose body is known (returned): padding and `frames`. */
  #wholeResponseHead(frames: Buffer[]): Buffer {
    this.#started = true;
    const parts = this.transport === 'long-polling' ? [STREAMING_PADDING_BYTES, ...frames] : frames;
    const body = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    const headers = responseHeaders(this.#request, this.#raw, TEXT_PLAIN);
    headers.push('Content-Length', String(body.length));
    this.response.writeHead(200, headers);
    return body;
  }

  protected override endResponse(): void {
    // Ended while waiting quietly: what was collected is still answered, with the head, in one write.
    if (this.#quiet) {
      const collected = this.#collected ?? [];
      this.#unquiet();
      this.#collected = undefined;
      if (!this.response.destroyed && !this.#started) this.#body = this.#wholeResponseHead(collected);
    }
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
    setImmediate(() => this.#complete());
  }

  #complete(): void {
    if (this.#quiet) {
      const collected = this.#collected ?? [];
      this.#unquiet();
      this.#collected = undefined;
      this.#answer(collected);
      return;
    }
    this.end();
  }
}
