import { AtmosphereClientError } from '../errors.ts';
import type { ResolvedRequest } from './request.ts';
import { postMessage, type PostResult } from '../transports/post.ts';
import type { TransportConnection } from '../transports/transport.ts';
import { OfflineQueue, type OutgoingBody } from './offline-queue.ts';

/** What `push` accepts: text as is, bytes as a binary message, anything else as JSON. */
export type PushMessage = string | ArrayBuffer | ArrayBufferView | object | number | boolean | null;

/** The body that goes on the wire for a pushed message. Throws `INVALID_OPTION` for what JSON cannot encode. */
export function encode(message: PushMessage): OutgoingBody {
  if (typeof message === 'string') return message;
  if (message instanceof ArrayBuffer) return message;
  if (ArrayBuffer.isView(message)) {
    return message.buffer.slice(message.byteOffset, message.byteOffset + message.byteLength) as ArrayBuffer;
  }
  const json = JSON.stringify(message);
  if (json === undefined)
    throw new AtmosphereClientError('INVALID_OPTION', `A ${typeof message} cannot be sent as a message.`);
  return json;
}

/** How the sender reaches the server: on the connection (WebSocket) or by posting. */
export type SendChannel =
  | { kind: 'socket'; send(body: OutgoingBody): void }
  | { kind: 'post'; post(body: OutgoingBody): Promise<PostResult> };

/** Posts that failed but may succeed later are retried this many times, with a growing pause. */
const MAX_POST_RETRIES = 3;

/**
 * The outgoing side of a subscription: messages wait in an {@link OfflineQueue} until a channel is
 * ready, then go out in push order. Posts go one at a time — concurrent fetches may reach the server out
 * of order. A post that fails for a reason worth retrying stays first in the queue and is retried (then
 * dropped with `SEND_FAILED`); one the server refused (4xx) is dropped at once and reported.
 */
export class Sender {
  readonly queue: OfflineQueue;
  readonly #report: (error: AtmosphereClientError) => void;
  readonly #retryBaseMs: number;
  #channel: SendChannel | undefined;
  #posting = false;
  #retries = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(capacity: number, retryBaseMs: number, report: (error: AtmosphereClientError) => void) {
    this.queue = new OfflineQueue(capacity);
    this.#retryBaseMs = retryBaseMs;
    this.#report = report;
  }

  /** Queues a message and sends what can be sent. */
  push(body: OutgoingBody): void {
    const dropped = this.queue.push(body);
    if (dropped !== undefined) {
      this.#report(
        new AtmosphereClientError(
          'QUEUE_FULL',
          `More than ${this.queue.capacity} messages waited for a connection; the oldest was dropped (option \`maxQueuedMessages\`).`,
        ),
      );
    }
    this.flush();
  }

  /** A connection is ready (or gone: `undefined`). Queued messages go out on the new channel. */
  setChannel(channel: SendChannel | undefined): void {
    this.#channel = channel;
    this.#retries = 0;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (channel) this.flush();
  }

  /** Sends queued messages while the channel takes them. */
  flush(): void {
    const channel = this.#channel;
    if (!channel || this.#retryTimer !== undefined) return;
    if (channel.kind === 'socket') {
      while (this.queue.size > 0 && this.#channel === channel) {
        const body = this.queue.peek()!;
        try {
          channel.send(body);
        } catch {
          // The socket is closing: the message stays queued for the next connection.
          return;
        }
        this.queue.shift();
      }
      return;
    }
    if (this.#posting || this.queue.size === 0) return;
    this.#posting = true;
    const head = this.queue.removed;
    void channel.post(this.queue.peek()!).then((result) => this.#posted(channel, head, result));
  }

  #posted(channel: SendChannel, head: number, result: PostResult): void {
    this.#posting = false;
    if (this.queue.removed !== head) {
      // The message left the queue meanwhile (cleared, or dropped to make room).
      this.flush();
      return;
    }
    if (result.ok) {
      this.queue.shift();
      this.#retries = 0;
      this.flush();
      return;
    }
    if (result.retry && this.#retries < MAX_POST_RETRIES) {
      if (this.#channel !== channel) {
        // The connection changed while posting: the new one sends it.
        this.flush();
        return;
      }
      const delay = this.#retryBaseMs * 2 ** this.#retries;
      this.#retries++;
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined;
        this.flush();
      }, delay);
      return;
    }
    this.queue.shift();
    this.#retries = 0;
    this.#report(result.error);
    this.flush();
  }

  /** Sends at once, outside the queue and without retry (the client heartbeat). Dropped when not connected. */
  sendNow(body: OutgoingBody): void {
    const channel = this.#channel;
    if (!channel) return;
    if (channel.kind === 'post') {
      void channel.post(body);
      return;
    }
    try {
      channel.send(body);
    } catch {
      // closing: the close event reports it
    }
  }

  /** Stops: cancels a pending retry, forgets the channel and drops what is queued. */
  dispose(): void {
    this.#channel = undefined;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.queue.clear();
  }
}

/** The channel of a WebSocket connection; `connection()` is undefined once it is no longer current. */
export function socketChannel(connection: () => TransportConnection | undefined): SendChannel {
  return {
    kind: 'socket',
    send(body) {
      const current = connection();
      if (!current?.send) throw new AtmosphereClientError('CLOSED', 'The WebSocket is no longer open.');
      current.send(body);
    },
  };
}

/** The channel of an HTTP transport: each message is posted to `url()` (built when sent). */
export function postChannel(request: ResolvedRequest, url: () => string): SendChannel {
  return {
    kind: 'post',
    post: (body) =>
      postMessage(url(), body, {
        headers: request.headers,
        contentType: request.contentType,
        withCredentials: request.withCredentials,
      }),
  };
}
