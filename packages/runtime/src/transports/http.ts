import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  AtmosphereHeaders,
  lengthPrefixed,
  NO_CACHE_HEADERS,
  PADDING_CHAR,
  SSE_PADDING,
  sseErrorEvent,
  sseEvent,
  STREAMING_PADDING,
} from '@atmosphere/protocol';
import type { Connection, ConnectionEnd, ConnectionOwner } from '../delivery/connection.ts';
import type { EncodedMessage } from '../delivery/encoded-message.ts';
import { appendCorsHeaders } from '../protocol/cors.ts';
import { sentBytes } from '../util/socket.ts';
import { WriteRun } from '../util/write-run.ts';
import type { ProtocolRequest } from '../spi/request.ts';

/** The no-cache headers as a flat name, value list (what `writeHead` takes without building objects). */
const NO_CACHE_LIST: readonly string[] = Object.entries(NO_CACHE_HEADERS).flat();
export const TEXT_PLAIN = 'text/plain; charset=utf-8';
/** Padding as bytes, made once: converting the 2 049-char string on every poll was its largest cost. */
export const STREAMING_PADDING_BYTES = Buffer.from(STREAMING_PADDING, 'latin1');
const SSE_PADDING_BYTES = Buffer.from(SSE_PADDING, 'latin1');

/**
 * Headers every Atmosphere response carries — no caching, CORS for an allowed origin, the tracking id — as a
 * flat name, value list to which a caller may push more.
 */
export function responseHeaders(
  request: ProtocolRequest,
  raw: IncomingMessage,
  contentType?: string,
): string[] {
  const headers = NO_CACHE_LIST.slice();
  appendCorsHeaders(raw, headers);
  if (contentType) headers.push('Content-Type', contentType);
  headers.push(AtmosphereHeaders.trackingId, request.trackingId);
  if (request.firstRequest) headers.push(AtmosphereHeaders.firstRequest, 'true');
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

/** What the HTTP transports share: the response, its end, padding, drain. */
export abstract class HttpConnection implements Connection {
  abstract readonly transport: 'sse' | 'streaming' | 'long-polling' | 'polling';
  readonly framed: boolean;
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

  bind(owner: ConnectionOwner | undefined): void {
    this.owner = owner;
  }

  /** Whether a server-side end is a normal completion (a poll) rather than a close. */
  protected get completes(): boolean {
    return false;
  }

  get open(): boolean {
    return !this.ended && !this.response.destroyed;
  }

  get buffered(): number {
    return this.response.writableLength;
  }

  get sent(): number {
    return sentBytes(this.response.socket);
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

  abstract write(message: EncodedMessage): void;
  abstract heartbeat(): void;

  #padding: Buffer | undefined;

  /**
   * Padding goes out with the first write of the same turn (the handshake, usually), so that clients which
   * treat each chunk as a message never see a chunk of padding alone; and on the next turn at the latest.
   */
  protected pad(padding: Buffer): void {
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
      this.response.write(Buffer.concat([padding, typeof data === 'string' ? Buffer.from(data) : data]));
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

/**
 * A run of an SSE or streaming response (`startRun` … `endRun`): the messages of a backlog written back to
 * back — a replay on reconnect, a queue catching up after a drain — gathered and written as one chunk of the
 * response, up to its high-water mark at a time, instead of one chunk each.
 */
const run = new WriteRun<OpenResponseConnection>();

/** A response that stays open and carries every message as it comes (SSE, streaming). */
abstract class OpenResponseConnection extends HttpConnection {
  /** A message's bytes in this response's encoding. */
  protected abstract encode(message: EncodedMessage): Buffer;

  write(message: EncodedMessage): void {
    const bytes = this.encode(message);
    if (run.owner !== this) {
      this.send(bytes);
      return;
    }
    const response = this.response;
    const spill = run.gather(bytes, response.writableLength, response.writableHighWaterMark);
    if (spill !== undefined) this.send(spill);
  }

  startRun(): void {
    run.start(this);
  }

  endRun(): void {
    const rest = run.finish(this);
    if (rest !== undefined) this.send(rest);
  }
}

/** Server-sent events: `data:` lines, 2000 spaces of padding first. */
export class SseConnection extends OpenResponseConnection {
  readonly transport = 'sse' as const;
  readonly #heartbeat: string;

  constructor(response: ServerResponse, request: ProtocolRequest, raw: IncomingMessage) {
    super(response, request.trackMessageLength);
    this.#heartbeat = sseEvent(this.framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR);
    const headers = responseHeaders(request, raw, 'text/event-stream; charset=utf-8');
    // HTTP/2 has no connection-specific headers: its streams are kept open by the protocol.
    if (raw.httpVersionMajor < 2) headers.push('Connection', 'keep-alive');
    headers.push('X-Accel-Buffering', 'no');
    response.writeHead(200, headers);
    this.pad(SSE_PADDING_BYTES);
  }

  protected encode(message: EncodedMessage): Buffer {
    return message.bytes(this.framed ? 'sse-framed' : 'sse');
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
export class StreamingConnection extends OpenResponseConnection {
  readonly transport = 'streaming' as const;
  readonly #heartbeat: string;

  constructor(response: ServerResponse, request: ProtocolRequest, raw: IncomingMessage) {
    super(response, request.trackMessageLength);
    this.#heartbeat = this.framed ? lengthPrefixed(PADDING_CHAR) : PADDING_CHAR;
    const headers = responseHeaders(request, raw, TEXT_PLAIN);
    // HTTP/2 has no connection-specific headers: its streams are kept open by the protocol.
    if (raw.httpVersionMajor < 2) headers.push('Connection', 'keep-alive');
    headers.push('X-Accel-Buffering', 'no');
    response.writeHead(200, headers);
    this.pad(STREAMING_PADDING_BYTES);
  }

  protected encode(message: EncodedMessage): Buffer {
    return message.bytes(this.framed ? 'framed' : 'plain');
  }

  heartbeat(): void {
    if (this.open) this.send(this.#heartbeat);
  }

  protected frameRaw(text: string): string {
    return this.framed ? lengthPrefixed(text) : text;
  }
}
