import { connect, type Socket } from 'node:net';

/** One HTTP response as the lean client reads it. */
export interface LeanResponse {
  status: number;
  /** Header names in lower case; only the ones asked for in `get`/`post` are kept. */
  headers: Record<string, string>;
  body: string;
}

const HEADER_END = Buffer.from('\r\n\r\n');

/** Responses read by every lean connection of this process (a long-polling client's polls). */
export const leanResponses = { count: 0 };
const CRLF = Buffer.from('\r\n');

/**
 * A lean HTTP/1.1 client connection for the long-polling comparison: one keep-alive TCP connection, one
 * request at a time, bodies with a Content-Length or chunked. Every long-polling contender (Atmosphere, the
 * raw peer, Socket.IO's Engine.IO) is driven through it, so the clients cost about the same per request and
 * the servers are what differs — node:http's client costs several times what a server spends per poll and
 * would otherwise set the pace for everyone.
 */
export class LeanHttpConnection {
  readonly #socket: Socket;
  readonly #host: string;
  readonly #ready: Promise<void>;
  #buffer: Buffer = Buffer.alloc(0);
  #pending:
    | {
        keep: readonly string[];
        resolve: (response: LeanResponse) => void;
        reject: (error: Error) => void;
      }
    | undefined;
  #closed = false;

  constructor(origin: string, localAddress?: string) {
    const url = new URL(origin);
    this.#host = url.host;
    this.#socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ...(localAddress ? { localAddress } : {}),
    });
    this.#socket.setNoDelay(true);
    this.#ready = new Promise((resolve, reject) => {
      this.#socket.once('connect', resolve);
      this.#socket.once('error', reject);
    });
    this.#socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    this.#socket.on('error', (error) => this.#fail(error));
    this.#socket.on('close', () => this.#fail(new Error('connection closed')));
  }

  /** GET `path`; `keep` names the response headers wanted (lower case). */
  get(path: string, keep: readonly string[] = []): Promise<LeanResponse> {
    return this.#request(`GET ${path} HTTP/1.1\r\nHost: ${this.#host}\r\n\r\n`, keep);
  }

  post(path: string, body: string, contentType = 'text/plain;charset=UTF-8'): Promise<LeanResponse> {
    const head =
      `POST ${path} HTTP/1.1\r\nHost: ${this.#host}\r\nContent-Type: ${contentType}\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n`;
    return this.#request(head + body, []);
  }

  /** The connection is gone (closed by either side, or failed); a new one is needed. */
  get closed(): boolean {
    return this.#closed;
  }

  destroy(): void {
    this.#closed = true;
    this.#socket.destroy();
  }

  async #request(text: string, keep: readonly string[]): Promise<LeanResponse> {
    await this.#ready;
    if (this.#pending) throw new Error('one request at a time');
    if (this.#closed) throw new Error('connection closed');
    return new Promise((resolve, reject) => {
      this.#pending = { keep, resolve, reject };
      this.#socket.write(text);
    });
  }

  #fail(error: Error): void {
    this.#closed = true;
    const pending = this.#pending;
    this.#pending = undefined;
    pending?.reject(error);
  }

  #onData(chunk: Buffer): void {
    this.#buffer = this.#buffer.length === 0 ? chunk : Buffer.concat([this.#buffer, chunk]);
    const pending = this.#pending;
    if (!pending) return;
    const parsed = parseResponse(this.#buffer, pending.keep);
    if (parsed === undefined) return;
    if (parsed === 'malformed') {
      this.#fail(new Error('malformed HTTP response'));
      this.#socket.destroy();
      return;
    }
    this.#buffer = this.#buffer.subarray(parsed.consumed);
    this.#pending = undefined;
    leanResponses.count++;
    pending.resolve(parsed.response);
  }
}

/** A whole response at the start of `buffer`, or undefined while it is incomplete. */
function parseResponse(
  buffer: Buffer,
  keep: readonly string[],
): { response: LeanResponse; consumed: number } | 'malformed' | undefined {
  const headEnd = buffer.indexOf(HEADER_END);
  if (headEnd === -1) return undefined;
  const head = buffer.toString('latin1', 0, headEnd);
  const status = Number(head.slice(9, 12));
  if (!head.startsWith('HTTP/1.1 ') || !(status >= 100)) return 'malformed';
  let contentLength = -1;
  let chunked = false;
  const headers: Record<string, string> = {};
  let lineStart = head.indexOf('\r\n') + 2;
  while (lineStart > 1 && lineStart < head.length) {
    let lineEnd = head.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = head.length;
    const colon = head.indexOf(':', lineStart);
    if (colon !== -1 && colon < lineEnd) {
      const name = head.slice(lineStart, colon).toLowerCase();
      const value = head.slice(colon + 1, lineEnd).trim();
      if (name === 'content-length') contentLength = Number(value);
      else if (name === 'transfer-encoding') chunked = value.toLowerCase().includes('chunked');
      if (keep.includes(name)) headers[name] = value;
    }
    lineStart = lineEnd + 2;
  }
  const bodyStart = headEnd + 4;
  if (chunked) {
    const parts: Buffer[] = [];
    let at = bodyStart;
    for (;;) {
      const sizeEnd = buffer.indexOf(CRLF, at);
      if (sizeEnd === -1) return undefined;
      const size = Number.parseInt(buffer.toString('latin1', at, sizeEnd), 16);
      if (!Number.isFinite(size)) return 'malformed';
      const dataStart = sizeEnd + 2;
      if (buffer.length < dataStart + size + 2) return undefined;
      if (size === 0) {
        // No trailers are sent by the servers here: the last chunk is `0\r\n\r\n`.
        return {
          response: { status, headers, body: Buffer.concat(parts).toString('utf8') },
          consumed: dataStart + 2,
        };
      }
      parts.push(buffer.subarray(dataStart, dataStart + size));
      at = dataStart + size + 2;
    }
  }
  const length = contentLength === -1 ? 0 : contentLength;
  if (buffer.length < bodyStart + length) return undefined;
  return {
    response: { status, headers, body: buffer.toString('utf8', bodyStart, bodyStart + length) },
    consumed: bodyStart + length,
  };
}
