import { randomBytes } from 'node:crypto';
import { AtmosphereError, silentLogger } from '@atmosphere/runtime';
import type {
  BackplaneEvents,
  BackplaneMessage,
  BroadcasterBackplane,
  Logger,
  RelayFailureReason,
} from '@atmosphere/runtime/spi';
import { REDIS_BACKPLANE_DEFAULTS, type RedisBackplaneConfig, type RedisBackplaneStats } from './config.ts';
import { closeConnection, openConnection, redactUrl, type RedisConnectionLike } from './connection.ts';
import { WarningThrottle } from '@atmosphere/runtime/spi';
import { decodeRelayMessage, encodeRelayMessage, isFromNode } from './wire-format.ts';

type State = 'new' | 'starting' | 'running' | 'closed';

/** A broadcast kept while Redis is unreachable. */
interface Held {
  readonly channel: string;
  readonly bytes: Buffer;
  readonly broadcaster: string;
}

const EMPTY = Buffer.alloc(0);
const PROBE_PAUSE_MS = 50;

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
 * Failures never throw into the broadcaster and are never silent: while Redis is unreachable broadcasts are
 * delivered on this node and kept (up to `maxBufferedBytes`), then relayed in order once Redis is back and
 * as many subscribers as before the outage listen again (or `flushWaitMs` has passed). A broadcast that
 * cannot be relayed (buffer full, too large, backlog, a publish refused or cut off) is counted in
 * {@link RedisBackplane.stats} and reported to the runtime (`relayFailed`, which the application sees with
 * `atmosphere.onRelayFailure`). Malformed or oversized messages on the channel are dropped with a warning.
 * `close()` quits both connections and is idempotent.
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
  /** Where subscriber counts are probed: a channel under the prefix that no broadcaster uses and no node reacts to. */
  readonly #countChannel: string;
  readonly #publisher: RedisConnectionLike;
  readonly #subscriber: RedisConnectionLike;
  readonly #logger: Logger;
  readonly #warnings: WarningThrottle;
  readonly #maxMessageBytes: number;
  readonly #maxPendingBytes: number;
  readonly #startTimeoutMs: number;
  readonly #maxBufferedBytes: number;
  readonly #flushWaitMs: number;
  #state: State = 'new';
  #deliver: ((message: BackplaneMessage) => void) | undefined;
  #events: BackplaneEvents | undefined;
  // Broadcasts go straight to Redis only while `#direct`; otherwise (Redis away, or back but the other nodes
  // not subscribed yet) they are held in `#held`, in order.
  #direct = false;
  #flushing = false;
  #held: Held[] = [];
  #heldBytes = 0;
  // Subscribers (pattern subscriptions, ours included) of the last acknowledged publish: the flush after an
  // outage waits until as many listen again.
  #audience = 0;
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
    this.#maxBufferedBytes = config.maxBufferedBytes ?? REDIS_BACKPLANE_DEFAULTS.maxBufferedBytes;
    this.#flushWaitMs = config.flushWaitMs ?? REDIS_BACKPLANE_DEFAULTS.flushWaitMs;
    for (const [option, value] of [
      ['maxBufferedBytes', this.#maxBufferedBytes + 1],
      ['flushWaitMs', this.#flushWaitMs + 1],
    ] as const) {
      if (!Number.isFinite(value) || value <= 0)
        throw new AtmosphereError(
          'INVALID_OPTION',
          `redisBackplane({ ${option} }) must be a number ≥ 0; got ${value - 1}.`,
        );
    }
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
    this.#countChannel = `${this.channelPrefix}\u0000count`;
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
      relaying: this.connected && this.#direct,
      published: this.#published,
      buffered: this.#held.length,
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
  async start(deliver: (message: BackplaneMessage) => void, events?: BackplaneEvents): Promise<void> {
    if (this.#state === 'closed')
      throw new AtmosphereError('CLOSED', 'This Redis backplane was closed; create another one to start.');
    if (this.#state !== 'new')
      throw new AtmosphereError('INVALID_OPTION', 'start() of a Redis backplane may be called only once.');
    this.#state = 'starting';
    this.#deliver = deliver;
    this.#events = events;
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
   * Relays a broadcast of this node to the others. Never throws and never waits. While Redis is away it is
   * kept (up to `maxBufferedBytes`) and relayed when Redis returns; what cannot be relayed is counted, warned
   * (throttled) and reported through `relayFailed`.
   */
  publish(message: BackplaneMessage): void {
    if (this.#state !== 'running') return;
    let buffer: Buffer;
    try {
      buffer = encodeRelayMessage(this.#nodeId, message);
    } catch (error) {
      this.#notRelayed.failed++;
      const detail = `a broadcast on ${message.broadcaster} could not be encoded and was not relayed: ${(error as Error).message}`;
      this.#warnings.warn('encode', `redis backplane: ${detail}`);
      this.#report('failed', message.broadcaster, 1, detail);
      return;
    }
    const length = buffer.length;
    if (length > this.#maxMessageBytes) {
      this.#notRelayed.tooLarge++;
      const detail =
        `a broadcast on ${message.broadcaster} (${length} bytes) is larger than maxMessageBytes ` +
        `(${this.#maxMessageBytes}) and was delivered on this node only`;
      this.#warnings.warn('too-large-out', `redis backplane: ${detail}`);
      this.#report('too-large', message.broadcaster, 1, detail);
      return;
    }
    const channel = this.channelPrefix + message.broadcaster;
    if (!this.#direct) {
      this.#hold(channel, buffer, message.broadcaster);
      return;
    }
    if (this.#pendingBytes + length > this.#maxPendingBytes) {
      this.#notRelayed.backlog++;
      const detail =
        `Redis has not acknowledged ${this.#pendingBytes} bytes (maxPendingBytes ` +
        `${this.#maxPendingBytes}); a broadcast on ${message.broadcaster} was delivered on this node only`;
      this.#warnings.warn('backlog', `redis backplane: ${detail}`);
      this.#report('backlog', message.broadcaster, 1, detail);
      return;
    }
    this.#send(channel, buffer, message.broadcaster);
  }

  #send(channel: string, buffer: Buffer, broadcaster: string): void {
    const length = buffer.length;
    this.#pendingBytes += length;
    this.#published++;
    const epoch = this.#publisherEpoch;
    this.#publisher.publish(channel, buffer).then(
      (receivers) => {
        if (epoch !== this.#publisherEpoch) return;
        this.#pendingBytes -= length;
        this.#audience = receivers;
      },
      (error: unknown) => {
        if (epoch === this.#publisherEpoch) this.#pendingBytes -= length;
        if (this.#state === 'closed') return;
        if (isNotSent(error)) {
          // The connection is going (its close is not reported yet) and the command was never written: keep
          // it like any broadcast made while Redis is away; the next 'ready' relays it, in order.
          this.#direct = false;
          this.#hold(channel, buffer, broadcaster);
          return;
        }
        this.#notRelayed.failed++;
        const detail = `a broadcast on ${broadcaster} may not have been relayed: ${(error as Error).message}`;
        this.#warnings.warn('publish-failed', `redis backplane: ${detail}`);
        this.#report('failed', broadcaster, 1, detail);
      },
    );
  }

  /** Keeps a broadcast while Redis is away (or the other nodes are not subscribed again yet). */
  #hold(channel: string, bytes: Buffer, broadcaster: string): void {
    if (this.#heldBytes + bytes.length > this.#maxBufferedBytes) {
      this.#notRelayed.offline++;
      if (this.#offlineSinceLoss++ === 0)
        this.#logger.warn(
          `redis backplane: Redis at ${this.location} is unreachable and ${this.#heldBytes} bytes of broadcasts ` +
            `wait for it (maxBufferedBytes ${this.#maxBufferedBytes}); further broadcasts (the first on ${broadcaster}) ` +
            'reach this node only and are reported to onRelayFailure; the count is logged when it returns',
        );
      this.#report(
        'offline',
        broadcaster,
        1,
        `Redis at ${this.location} is unreachable and the buffer (maxBufferedBytes ${this.#maxBufferedBytes}) is full; ` +
          `a broadcast on ${broadcaster} reached this node only`,
      );
      return;
    }
    if (this.#held.length === 0 && !this.#publisherUp)
      this.#logger.warn(
        `redis backplane: Redis at ${this.location} is unreachable; broadcasts (the first on ${broadcaster}) are ` +
          `kept, up to maxBufferedBytes (${this.#maxBufferedBytes}), and relayed when it returns`,
      );
    this.#held.push({ channel, bytes, broadcaster });
    this.#heldBytes += bytes.length;
  }

  /** Tells the runtime that messages of other nodes were missed (it reconciles from a shared log). */
  #resubscribed(): void {
    try {
      this.#events?.resubscribed?.();
    } catch (error) {
      this.#logger.error('redis backplane: the resubscribed listener threw', { error });
    }
  }

  #report(reason: RelayFailureReason, broadcaster: string, count: number, detail: string): void {
    const events = this.#events;
    if (events === undefined) return;
    try {
      events.relayFailed({ backplane: this.name, broadcaster, reason, count, detail });
    } catch (error) {
      this.#logger.error('redis backplane: the relay-failure listener threw', { error });
    }
  }

  /**
   * After a (re)connection: waits until as many subscribers as before listen again (a PUBLISH of an empty
   * probe answers how many received it), or `flushWaitMs`, then relays what was kept, in order, and publishes
   * directly again. Ends early when the connection is lost again; the next 'ready' starts over.
   */
  /** The publishing connection was lost (or the backplane closed) since `epoch`. */
  #stale(epoch: number): boolean {
    return epoch !== this.#publisherEpoch || this.#state === 'closed';
  }

  async #flush(): Promise<void> {
    if (this.#flushing) return;
    this.#flushing = true;
    const epoch = this.#publisherEpoch;
    const deadline = Date.now() + this.#flushWaitMs;
    const wanted = this.#audience;
    let receivers: number;
    try {
      for (;;) {
        if (this.#stale(epoch)) return;
        try {
          receivers = await this.#publisher.publish(this.#countChannel, EMPTY);
        } catch {
          return;
        }
        if (this.#stale(epoch)) return;
        if (receivers >= wanted || Date.now() >= deadline) break;
        await new Promise((resolve) => setTimeout(resolve, PROBE_PAUSE_MS).unref());
      }
      if (receivers < wanted)
        this.#logger.warn(
          `redis backplane: ${receivers} of the ${wanted} subscriber(s) of before the outage listen again after ` +
            `flushWaitMs (${this.#flushWaitMs} ms); relaying anyway (a node that is gone may not come back)`,
        );
      const held = this.#held;
      this.#held = [];
      this.#heldBytes = 0;
      for (const { channel, bytes, broadcaster } of held) this.#send(channel, bytes, broadcaster);
      this.#direct = true;
      if (held.length > 0)
        this.#logger.info(
          `redis backplane: relayed ${held.length} broadcast(s) kept while Redis was unreachable`,
        );
    } finally {
      this.#flushing = false;
    }
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
    const held = this.#held;
    if (held.length > 0) {
      this.#notRelayed.offline += held.length;
      this.#logger.warn(
        `redis backplane: closed with ${held.length} broadcast(s) kept for an unreachable Redis; they were not relayed`,
      );
      this.#report(
        'offline',
        held[0]!.broadcaster,
        held.length,
        'the backplane was closed while Redis was unreachable',
      );
    }
    this.#held = [];
    this.#heldBytes = 0;
    this.#direct = false;
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
    if (this.#state === 'running' && !this.#direct) void this.#flush();
  }

  #publisherClosed(): void {
    if (this.#state === 'closed') return;
    // Publishes still on their way are lost with the connection (never resent): stop counting them.
    this.#publisherEpoch++;
    this.#pendingBytes = 0;
    this.#direct = false;
    if (!this.#publisherUp) return;
    this.#publisherUp = false;
    this.#publisherLost = true;
    this.#logger.warn(
      `redis backplane: lost the publishing connection to ${this.location}; reconnecting (broadcasts are kept meanwhile, up to maxBufferedBytes)`,
    );
  }

  #subscribe(): void {
    if (this.#state === 'closed') return;
    const epoch = ++this.#subscriberEpoch;
    this.#subscriber.psubscribe(this.#pattern).then(
      () => {
        if (epoch !== this.#subscriberEpoch || this.#state === 'closed') return;
        this.#subscribed = true;
        const lost = this.#subscriptionLost;
        if (lost) {
          this.#subscriptionLost = false;
          this.#logger.info(
            `redis backplane: subscribed to ${this.#pattern} again; relaying resumed (what other nodes relayed meanwhile is read from the stream log when it is shared)`,
          );
        }
        this.#checkRunning();
        if (lost && this.#state === 'running') {
          this.#announce();
          this.#resubscribed();
        }
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
    this.#direct = true;
    this.#announce();
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  /**
   * Tells the other nodes that this one listens (an empty message on the bare prefix), and learns from the
   * answer how many subscribers there are now, so that a flush after an outage knows whom to wait for.
   */
  #announce(): void {
    this.#publisher.publish(this.channelPrefix, EMPTY).then(
      (receivers) => {
        this.#audience = Math.max(this.#audience, receivers);
      },
      () => undefined,
    );
  }

  /**
   * Counts the subscribers again (after another node announced itself): without it, a node that has not
   * published since the others started would wait, after an outage, only for as many as it saw at its own
   * start, and relay what it kept before the others listen again. The count probe goes on a channel nobody
   * reacts to.
   */
  #recount(): void {
    if (!this.#direct) return;
    const epoch = this.#publisherEpoch;
    this.#publisher.publish(this.#countChannel, EMPTY).then(
      (receivers) => {
        if (epoch === this.#publisherEpoch) this.#audience = receivers;
      },
      () => undefined,
    );
  }

  #receive(channel: Buffer, message: Buffer): void {
    const deliver = this.#deliver;
    if (deliver === undefined || this.#state !== 'running') return;
    // An empty message is a probe: on the bare prefix another node announces itself (see #announce), on the
    // count channel a node counts the subscribers (see #flush).
    if (message.length === 0) {
      if (channel.length === this.#prefixBytes) this.#recount();
      return;
    }
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

/** ioredis refused the command without writing it: the connection is not (or no longer) writable. */
function isNotSent(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith("Stream isn't writeable");
}
