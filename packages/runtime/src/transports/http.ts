import type { IncomingMessage, ServerResponse } from 'node:http';
import type { OutboundMessage } from '../broadcast/message.ts';
import {
  Headers,
  NO_CACHE_HEADERS,
  PADDING_CHAR,
  SSE_PADDING,
  STREAMING_PADDING,
} from '../protocol/constants.ts';
import { corsHeaders } from '../protocol/cors.ts';
import { lengthPrefixed, sseErrorEvent, sseEvent } from '../protocol/framing.ts';
import type { ProtocolRequest } from '../protocol/request.ts';
import type { Connection, ConnectionEnd, ConnectionOwner } from './connection.ts';

/** Headers every Atmosphere response carries: no caching, CORS for an allowed origin, the tracking id. */
export function responseHeaders(
  request: ProtocolRequest,
  raw: IncomingMessage,
  contentType?: string,
): Record<string, string> {
  const headers: Record<string, string> = { ...NO_CACHE_HEADERS, ...corsHeaders(raw) };
  if (contentType) headers['Content-Type'] = contentType;
  headers[Headers.trackingId] = request.trackingId;
  if (request.firstRequest) headers[Headers.firstRequest] = 'true';
  return headers;
}

/** Answers a request with a status and a short text, ending it. */
export function sendText(
  response: ServerResponse,
  status: number,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (response.headersSent) {
    response.end();
    return;
  }
  response.writeHead(status, {
    ...NO_CACHE_HEADERS,
    'Content-Type': 'text/plain; charset=utf-8',
    ...headers,
  });
  response.end(body);
}

abstract class HttpConnection implements Connection {
  abstract readonly transport: 'sse' | 'streaming' | 'long-polling' | 'polling';
  readonly framed: boolean;
  wroteSinceCheck = false;
  lastWriteAt = Date.now();
  owner: ConnectionOwner | undefined;
  protected readonly response: ServerResponse;
  protected ended = false;
  #endedByServer = false;
  #awaitingDrain = false;

  constructor(response: ServerResponse, framed: boolean) {
    this.response = response;
    this.framed = framed;
    response.on('close', () => {
      this.ended = true;
      const how: ConnectionEnd = this.#endedByServer
        ? this.completes
          ? 'completed'
          : 'server-closed'
        : 'lost';
      const owner = this.owner;
      this.owner = undefined;
      owner?.connectionEnded(this, how);
    });
  }

  /** Whether a server-side end is a normal completion (a poll) rather than a close. */
  protected get completes(): boolean {
    return false;
  }

  get open(): boolean {
    return !this.ended && !this.response.destroyed;
  }

  get writable(): boolean {
    if (this.ended) return false;
    if (!this.response.writableNeedDrain) return true;
    this.#awaitDrain();
    return false;
  }

  /** A 'drain' listener only while congested. */
  #awaitDrain(): void {
    if (this.#awaitingDrain) return;
    this.#awaitingDrain = true;
    this.response.once('drain', () => {
      this.#awaitingDrain = false;
      this.owner?.connectionDrained(this);
    });
  }

  abstract write(message: OutboundMessage): void;
  abstract heartbeat(): void;

  #padding: string | undefined;

  /**
   * Padding goes out with the first write of the same turn (the handshake, usually), so that clients which
   * treat each chunk as a message never see a chunk of padding alone; and on the next turn at the latest.
   */
  protected pad(padding: string): void {
    this.#padding = padding;
    setImmediate(() => this.#flushPadding());
  }

  #flushPadding(): void {
    const padding = this.#padding;
    if (padding === undefined) return;
    this.#padding = undefined;
    if (this.open) this.response.write(padding);
  }

  protected send(data: string | Buffer): void {
    const padding = this.#padding;
    if (padding !== undefined) {
      this.#padding = undefined;
      this.response.write(
        typeof data === 'string' ? padding + data : Buffer.concat([Buffer.from(padding), data]),
      );
      return;
    }
    this.response.write(data);
  }

  /** Writes text outside the message queue (the handshake). */
  writeRaw(text: string): void {
    if (this.open) this.send(this.frameRaw(text));
  }

  protected abstract frameRaw(text: string): string;

  end(code?: number, reason?: string): void {
    if (this.ended) return;
    this.#endedByServer = true;
    this.ended = true;
    this.endResponse(code, reason);
  }

  protected endResponse(_code?: number, _reason?: string): void {
    this.response.end();
  }
}

/** Server-sent events: `data:` lines, 2000 spaces of padding first. */
export class SseConnection extends HttpConnection {
  readonly transport = 'sse' as const;
  readonly #heartbeat: string;

  constructor(response: ServerResponse, request: ProtocolRequest, raw: IncomingMessage) {
    super(response, request.trackMessageLength);
    this.#heartbeat = sseEvent(this.framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR);
    response.writeHead(200, {
      ...responseHeaders(request, raw, 'text/event-stream; charset=utf-8'),
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.pad(SSE_PADDING);
  }

  write(message: OutboundMessage): void {
    this.send(message.bytes(this.framed ? 'sse-framed' : 'sse'));
  }

  heartbeat(): void {
    if (this.open) this.send(this.#heartbeat);
  }

  protected frameRaw(text: string): string {
    return sseEvent(this.framed ? lengthPrefixed(text) : text);
  }

  protected override endResponse(code?: number, reason?: string): void {
    if (code !== undefined && code !== 1000 && code !== 1001)
      this.response.end(sseErrorEvent(code, reason ?? ''));
    else this.response.end();
  }
}

/** HTTP streaming: a `text/plain` response that stays open, 2048 spaces of padding first. */
export class StreamingConnection extends HttpConnection {
  readonly transport = 'streaming' as const;
  readonly #heartbeat: string;

  constructor(response: ServerResponse, request: ProtocolRequest, raw: IncomingMessage) {
    super(response, request.trackMessageLength);
    this.#heartbeat = this.framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR;
    response.writeHead(200, {
      ...responseHeaders(request, raw, 'text/plain; charset=utf-8'),
      Connection: 'keep-alive',
      'X-Accel-Buffering': 'no',
    });
    this.pad(STREAMING_PADDING);
  }

  write(message: OutboundMessage): void {
    this.send(message.bytes(this.framed ? 'framed' : 'plain'));
  }

  heartbeat(): void {
    if (this.open) this.send(this.#heartbeat);
  }

  protected frameRaw(text: string): string {
    return this.framed ? lengthPrefixed(text) : text;
  }
}

/**
 * One long-poll (or, with `suspend` false, one plain poll). Pending messages are written into the response,
 * each framed separately, and the response completes right after: on the next turn of the event loop, so
 * every message queued in the same turn goes in the same response. A heartbeat also completes the poll.
 */
export class PollConnection extends HttpConnection {
  readonly transport: 'long-polling' | 'polling';
  readonly #heartbeat: string;
  #completing = false;
  #started = false;
  readonly #request: ProtocolRequest;
  readonly #raw: IncomingMessage;

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
    this.#heartbeat = this.framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR;
    // A long-poll answers its headers and padding at once (the client knows it is waiting); a plain poll
    // answers only when it completes.
    if (transport === 'long-polling') this.#start();
  }

  protected override get completes(): boolean {
    return true;
  }

  #start(): void {
    if (this.#started) return;
    this.#started = true;
    this.response.writeHead(200, responseHeaders(this.#request, this.#raw, 'text/plain; charset=utf-8'));
    // Every long-poll response starts with the streaming padding (never framed); plain polls have none.
    if (this.transport === 'long-polling') this.response.write(STREAMING_PADDING);
  }

  write(message: OutboundMessage): void {
    this.#start();
    this.response.write(message.bytes(this.framed ? 'framed' : 'plain'));
    this.#completeSoon();
  }

  heartbeat(): void {
    if (!this.open) return;
    this.#start();
    this.response.write(this.#heartbeat);
    this.end();
  }

  protected frameRaw(text: string): string {
    return this.framed ? lengthPrefixed(text) : text;
  }

  /** Answers the poll with just `text` and completes it (the long-polling handshake). */
  answer(text: string): void {
    this.#start();
    this.response.write(text);
    this.end();
  }

  /** Completes an empty poll (plain polling with nothing pending). */
  complete(): void {
    this.#start();
    this.end();
  }

  #completeSoon(): void {
    if (this.#completing) return;
    this.#completing = true;
    setImmediate(() => this.end());
  }
}
