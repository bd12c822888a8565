import { randomBytes } from 'node:crypto';
import { AtmosphereError, silentLogger } from '@atmosphere/runtime';
import type { BackplaneMessage, BroadcasterBackplane, Logger } from '@atmosphere/runtime/spi';
import { REDIS_BACKPLANE_DEFAULTS, type RedisBackplaneConfig, type RedisBackplaneStats } from './config.ts';
import { closeConnection, openConnection, redactUrl, type RedisConnectionLike } from './connection.ts';
import { WarningThrottle } from '@atmosphere/runtime/spi';
import { decodeRelayMessage, encodeRelayMessage, isFromNode } from './wire-format.ts';

type State = 'new' | 'starting' | 'running' | 'closed';

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (character) => `\\${character}`);
}

/**
 * The Redis backplane (provider kind `broadcaster-backplane`): relays every broadcast of this node to the
 * other nodes through Redis pub/sub, and hands theirs to the runtime. One publishing and one subscribing
 * connection; a broadcaster `id` travels on the channel `<channelPrefix><id>`, and every node subscribes to
 * the pattern `<channelPrefix>*`. Messages carry the sender's random node id, so a node never delivers its
 * own messages twice; targets and exclude travel with them; bytes stay bytes.
 *
 * Failures never reach the broadcaster: while Redis is unreachable broadcasts are delivered on this node
 * only (counted in {@link RedisBackplane.stats}, one warning per outage), ioredis reconnects by itself and
 * relaying resumes when both connections are back. Malformed or oversized messages on the channel are
 * dropped with a warning. `close()` quits both connections and is idempotent.
 */
export class RedisBackplane implements BroadcasterBackplane {
  readonly name = 'redis';
  /** This node's id on the channel (hex), random per instance. */
  readonly nodeId: string;
  /** The channel prefix; the subscription pattern is the prefix (glob-escaped) followed by `*`. */
  readonly channelPrefix: string;
  /** Where it relays through, for logs: the URL with its password masked, or the given client's Redis. */
  readonly location: string;
  readonly #nodeId: Buffer;
  readonly #pattern: string;
  readonly #prefixBytes: number;
  readonly #publisher: RedisConnectionLike;
  readonly #subscriber: RedisConnectionLike;
  readonly #logger: Logger;
  readonly #warnings: WarningThrottle;
  readonly #maxMessageBytes: number;
  readonly #maxPendingBytes: number;
  readonly #startTimeoutMs: number;
  #state: State = 'new';
  #deliver: ((message: BackplaneMessage) => void) | undefined;
  #closing: Promise<void> | undefined;
  #waiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  #lastError: string | undefined;
  // Publisher side: up or not, the connection's epoch (bumped on each loss) and the bytes it has not answered.
  #publisherUp = false;
  #publisherEpoch = 0;
  #pendingBytes = 0;
  #publisherLost = false;
  #offlineSinceLoss = 0;
  // Subscriber side.
  #subscribed = false;
  #subscriberEpoch = 0;
  #subscriptionLost = false;
  #published = 0;
  #received = 0;
  #notRelayed = { offline: 0, tooLarge: 0, backlog: 0, failed: 0 };
  #refused = { tooLarge: 0, malformed: 0 };

  constructor(config: RedisBackplaneConfig) {
    this.channelPrefix = config.channelPrefix ?? REDIS_BACKPLANE_DEFAULTS.channelPrefix;
    this.#maxMessageBytes = config.maxMessageBytes ?? REDIS_BACKPLANE_DEFAULTS.maxMessageBytes;
    this.#maxPendingBytes = config.maxPendingBytes ?? REDIS_BACKPLANE_DEFAULTS.maxPendingBytes;
    this.#startTimeoutMs = config.startTimeoutMs ?? REDIS_BACKPLANE_DEFAULTS.startTimeoutMs;
    for (const [option, value] of [
      ['maxMessageBytes', this.#maxMessageBytes],
      ['maxPendingBytes', this.#maxPendingBytes],
      ['startTimeoutMs', this.#startTimeoutMs],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0)
        throw new AtmosphereError(
          'INVALID_OPTION',
          `redisBackplane({ ${option} }) must be a positive number; got ${value}.`,
        );
    }
    this.#logger = config.logger ?? silentLogger;
    this.#warnings = new WarningThrottle(this.#logger);
    this.#nodeId = randomBytes(16);
    this.nodeId = this.#nodeId.toString('hex');
    this.#pattern = `${escapeGlob(this.channelPrefix)}*`;
    this.#prefixBytes = Buffer.byteLength(this.channelPrefix, 'utf8');
    const source = config.connection;
    this.location = 'url' in source ? redactUrl(source.url) : 'the Redis of the given client';
    const name = `atmosphere-${this.nodeId.slice(0, 8)}`;
    // The publisher never queues inside ioredis (we drop while offline, so memory stays bounded) and does not
    // resend, after a reconnection, what was on its way when the connection broke (late, perhaps twice):
    // at most once. The subscriber keeps its one PSUBSCRIBE waiting for as long as it takes, and we
    // resubscribe ourselves to know when the subscription is active again.
    this.#publisher = openConnection(source, {
      lazyConnect: true,
      connectionName: `${name}-publisher`,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
    });
    this.#subscriber = openConnection(source, {
      lazyConnect: true,
      connectionName: `${name}-subscriber`,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
      autoResendUnfulfilledCommands: false,
    });
    this.#wire();
  }

  /** The publishing connection is up and the subscription is active. */
  get connected(): boolean {
    return this.#publisherUp && this.#subscribed;
  }

  /** The Redis pattern this node subscribes to. */
  get pattern(): string {
    return this.#pattern;
  }

  stats(): RedisBackplaneStats {
    return {
      connected: this.connected,
      published: this.#published,
      received: this.#received,
      notRelayed: { ...this.#notRelayed },
      refused: { ...this.#refused },
    };
  }

  /**
   * Connects both connections and subscribes. Resolves once the subscription is active and the publisher is
   * ready, so that a broadcast made right after reaches the other nodes. Rejects with `PROVIDER_FAILED` when
   * that takes longer than `startTimeoutMs` (the connections are then closed), `CLOSED` after `close()`.
   */
  async start(deliver: (message: BackplaneMessage) => void): Promise<void> {
    if (this.#state === 'closed')
      throw new AtmosphereError('CLOSED', 'This Redis backplane was closed; create another one to start.');
    if (this.#state !== 'new')
      throw new AtmosphereError('INVALID_OPTION', 'start() of a Redis backplane may be called only once.');
    this.#state = 'starting';
    this.#deliver = deliver;
    const running = new Promise<void>((resolve, reject) => this.#waiters.push({ resolve, reject }));
    // connect() rejects on the first failed attempt; ioredis keeps retrying, and the waiter sees the outcome.
    this.#publisher.connect().catch(() => undefined);
    this.#subscriber.connect().catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new AtmosphereError(
              'PROVIDER_FAILED',
              `The Redis backplane could not connect to ${this.location} within ${this.#startTimeoutMs} ms` +
                `${this.#lastError ? ` (last error: ${this.#lastError})` : ''}. Start Redis there, or point ` +
                'ATMOSPHERE_REDIS_URL (or redisBackplane({ url })) at a running one.',
            ),
          ),
        this.#startTimeoutMs,
      );
    });
    try {
      await Promise.race([running, timeout]);
    } catch (error) {
      await this.close();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    this.#logger.info(
      `redis backplane: node ${this.nodeId} relays through ${this.location} on ${this.#pattern}`,
    );
  }

  /**
   * Relays a broadcast of this node to the others. Never throws and never waits: when the message cannot be
   * relayed (Redis unreachable, too large, too much unacknowledged) it is counted and a warning is logged.
   */
  publish(message: BackplaneMessage): void {
    if (this.#state !== 'running') return;
    if (!this.#publisherUp) {
      this.#notRelayed.offline++;
      if (this.#offlineSinceLoss++ === 0)
        this.#logger.warn(
          `redis backplane: Redis at ${this.location} is unreachable; broadcasts (the first on ${message.broadcaster}) ` +
            'reach this node only until it returns; the count is reported then',
        );
      return;
    }
    let buffer: Buffer;
    try {
      buffer = encodeRelayMessage(this.#nodeId, message);
    } catch (error) {
      this.#notRelayed.failed++;
      this.#warnings.warn(
        'encode',
        `redis backplane: a broadcast on ${message.broadcaster} could not be encoded and was not relayed: ${(error as Error).message}`,
      );
      return;
    }
    const length = buffer.length;
    if (length > this.#maxMessageBytes) {
      this.#notRelayed.tooLarge++;
      this.#warnings.warn(
        'too-large-out',
        `redis backplane: a broadcast on ${message.broadcaster} (${length} bytes) is larger than maxMessageBytes ` +
          `(${this.#maxMessageBytes}) and was delivered on this node only`,
      );
      return;
    }
    if (this.#pendingBytes + length > this.#maxPendingBytes) {
      this.#notRelayed.backlog++;
      this.#warnings.warn(
        'backlog',
        `redis backplane: Redis has not acknowledged ${this.#pendingBytes} bytes (maxPendingBytes ` +
          `${this.#maxPendingBytes}); a broadcast on ${message.broadcaster} was delivered on this node only`,
      );
      return;
    }
    this.#pendingBytes += length;
    this.#published++;
    const epoch = this.#publisherEpoch;
    this.#publisher.publish(this.channelPrefix + message.broadcaster, buffer).then(
      () => {
        if (epoch === this.#publisherEpoch) this.#pendingBytes -= length;
      },
      (error: unknown) => {
        if (epoch === this.#publisherEpoch) this.#pendingBytes -= length;
        this.#notRelayed.failed++;
        this.#warnings.warn(
          'publish-failed',
          `redis backplane: a broadcast on ${message.broadcaster} may not have been relayed: ${(error as Error).message}`,
        );
      },
    );
  }

  /** Quits both connections (they are closed hard after 1 s). Idempotent: every call returns the same promise. */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #shutdown(): Promise<void> {
    this.#state = 'closed';
    this.#deliver = undefined;
    this.#publisherUp = false;
    this.#subscribed = false;
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters)
      waiter.reject(new AtmosphereError('CLOSED', 'The Redis backplane was closed while it was starting.'));
    await Promise.all([closeConnection(this.#publisher, 1_000), closeConnection(this.#subscriber, 1_000)]);
    for (const connection of [this.#publisher, this.#subscriber]) {
      connection.removeAllListeners();
      // A late socket error must not become an uncaught 'error' event.
      connection.on('error', () => undefined);
    }
  }

  #wire(): void {
    const publisher = this.#publisher;
    const subscriber = this.#subscriber;
    publisher.on('error', (error) => this.#connectionError('publishing', error));
    subscriber.on('error', (error) => this.#connectionError('subscribing', error));
    publisher.on('ready', () => this.#publisherReady());
    publisher.on('close', () => this.#publisherClosed());
    subscriber.on('ready', () => this.#subscribe());
    subscriber.on('close', () => this.#subscriberClosed());
    subscriber.on('pmessageBuffer', (_pattern, channel, message) => this.#receive(channel, message));
  }

  #connectionError(which: string, error: Error): void {
    if (this.#state === 'closed') return;
    this.#lastError = error.message;
    this.#warnings.warn(
      `${which}-error`,
      `redis backplane: ${which} connection to ${this.location}: ${error.message}`,
    );
  }

  #publisherReady(): void {
    if (this.#state === 'closed') return;
    this.#publisherUp = true;
    if (this.#publisherLost) {
      this.#publisherLost = false;
      const dropped = this.#offlineSinceLoss;
      this.#offlineSinceLoss = 0;
      const message = `redis backplane: publishing to ${this.location} again; ${dropped} broadcast(s) of this node were not relayed while it was unreachable`;
      if (dropped > 0) this.#logger.warn(message);
      else this.#logger.info(message);
    }
    this.#checkRunning();
  }

  #publisherClosed(): void {
    if (this.#state === 'closed') return;
    // Publishes still on their way are lost with the connection (never resent): stop counting them.
    this.#publisherEpoch++;
    this.#pendingBytes = 0;
    if (!this.#publisherUp) return;
    this.#publisherUp = false;
    this.#publisherLost = true;
    this.#logger.warn(
      `redis backplane: lost the publishing connection to ${this.location}; reconnecting (broadcasts reach this node only meanwhile)`,
    );
  }

  #subscribe(): void {
    if (this.#state === 'closed') return;
    const epoch = ++this.#subscriberEpoch;
    this.#subscriber.psubscribe(this.#pattern).then(
      () => {
        if (epoch !== this.#subscriberEpoch || this.#state === 'closed') return;
        this.#subscribed = true;
        if (this.#subscriptionLost) {
          this.#subscriptionLost = false;
          this.#logger.info(`redis backplane: subscribed to ${this.#pattern} again; relaying resumed`);
        }
        this.#checkRunning();
      },
      (error: unknown) => {
        // The connection broke before Redis confirmed; the next 'ready' subscribes again.
        this.#logger.debug(
          `redis backplane: PSUBSCRIBE ${this.#pattern} failed: ${(error as Error).message}`,
        );
      },
    );
  }

  #subscriberClosed(): void {
    if (this.#state === 'closed') return;
    this.#subscriberEpoch++;
    if (!this.#subscribed) return;
    this.#subscribed = false;
    this.#subscriptionLost = true;
    this.#logger.warn(
      `redis backplane: lost the subscribing connection to ${this.location}; reconnecting (messages from other nodes are missed meanwhile)`,
    );
  }

  #checkRunning(): void {
    if (this.#state !== 'starting' || !this.connected) return;
    this.#state = 'running';
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  #receive(channel: Buffer, message: Buffer): void {
    const deliver = this.#deliver;
    if (deliver === undefined || this.#state !== 'running') return;
    if (message.length > this.#maxMessageBytes) {
      this.#refused.tooLarge++;
      this.#warnings.warn(
        'too-large-in',
        `redis backplane: dropped a ${message.length}-byte message on ${channel.toString('utf8')}: larger than ` +
          `maxMessageBytes (${this.#maxMessageBytes})`,
      );
      return;
    }
    if (isFromNode(message, this.#nodeId)) return;
    let decoded: BackplaneMessage;
    try {
      decoded = decodeRelayMessage(channel.toString('utf8', this.#prefixBytes), message);
    } catch (error) {
      this.#refused.malformed++;
      this.#warnings.warn(
        'malformed',
        `redis backplane: dropped a malformed message on ${channel.toString('utf8')}: ${(error as Error).message}`,
      );
      return;
    }
    this.#received++;
    try {
      deliver(decoded);
    } catch (error) {
      this.#logger.error(`redis backplane: delivering a message on ${decoded.broadcaster} failed`, { error });
    }
  }
}
