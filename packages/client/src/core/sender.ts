import { AtmosphereClientError } from '../errors.ts';
import type { PostResult } from '../transports/post.ts';
import { OfflineQueue, type OutgoingBody } from './offline-queue.ts';

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

  /** Stops: cancels a pending retry, forgets the channel and drops what is queued. */
  dispose(): void {
    this.#channel = undefined;
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.queue.clear();
  }
}
