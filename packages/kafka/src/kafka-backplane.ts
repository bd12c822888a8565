import { randomBytes } from 'node:crypto';
import { AtmosphereError, silentLogger } from '@atmosphere/runtime';
import type {
  BackplaneEvents,
  BackplaneMessage,
  BroadcasterBackplane,
  Logger,
  RelayFailureReason,
} from '@atmosphere/runtime/spi';
import type { KafkaBackplaneStats } from './config.ts';
import type {
  KafkaAdminLike,
  KafkaConsumerLike,
  KafkaLike,
  KafkaMessageLike,
  KafkaOutgoingMessage,
  KafkaProducerLike,
} from './kafka-client.ts';
import { WarningThrottle } from '@atmosphere/runtime/spi';
import { decodeRelayRecord, encodeRelayRecord, isFromNode, recordSize } from './wire-format.ts';

/** Everything a backplane needs once its settings are resolved (by `start()`, so that mistakes fail it). */
export interface KafkaBackplaneSetup {
  readonly kafka: KafkaLike;
  /** The brokers, for log lines and errors (never credentials). */
  readonly location: string;
  /** The relay topic. */
  readonly topic: string;
  /** Partitions of the relay topic when this node creates it. */
  readonly partitions: number;
  /** This node's consumer group; only this node may use it. */
  readonly groupId: string;
  readonly maxMessageBytes: number;
  readonly maxPendingBytes: number;
  readonly startTimeoutMs: number;
  /** What to set when the brokers cannot be reached (named in the start error). */
  readonly fix: string;
  /** The client's last error, as kafkajs logged it (while it retries, no promise says it). */
  readonly lastClientError?: () => string | undefined;
}

/** Resolves the setup: reads options and environment, checks them, loads kafkajs when needed. */
export type KafkaBackplanePreparation = (nodeId: string) => Promise<KafkaBackplaneSetup>;

type State = 'new' | 'starting' | 'running' | 'closed';

interface Queued {
  readonly record: KafkaOutgoingMessage;
  readonly bytes: number;
  readonly broadcaster: string;
}

/** The Java consumer's default `fetch.max.wait.ms`: how long an idle fetch waits at the broker. */
const FETCH_WAIT_MS = 500;
/** How long `close()` waits for kafkajs to disconnect before it lets go. */
const CLOSE_TIMEOUT_MS = 2_000;

function fnv1a(bytes: Buffer): number {
  let hash = 0x811c9dc5;
  for (const byte of bytes) hash = Math.imul(hash ^ byte, 0x01000193);
  return hash >>> 0;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The Kafka backplane (provider kind `broadcaster-backplane`): relays every broadcast of this node to the other
 * nodes through one Kafka topic (`<topicPrefix>backplane`), keyed by broadcaster id so that each broadcaster's
 * messages stay in order on one partition, and hands the other nodes' records to the runtime. Each node reads
 * every partition with a consumer group of its own, starting at the end of the topic as it was when `start()`
 * began; after a lost connection it resumes from the record after the last one it read, so a broker outage
 * loses nothing that reached Kafka.
 *
 * Nothing is dropped quietly: a broadcast that cannot be relayed (too large, too much waiting for Kafka, Kafka
 * unreachable after the producer's retries) is counted in {@link KafkaBackplane.stats} and logged (throttled);
 * it still reaches this node's clients. Malformed or oversized records are dropped with a throttled warning.
 * `close()` stops the consumer and producer this backplane made and is idempotent; a `Kafka` instance passed
 * in by the application is never closed (it holds no connection of its own).
 */
export class KafkaBackplane implements BroadcasterBackplane {
  readonly name = 'kafka';
  /** This node's id in the records it sends (hex), random per instance. */
  readonly nodeId: string;
  readonly #nodeId: Buffer;
  readonly #prepare: KafkaBackplanePreparation;
  readonly #logger: Logger;
  readonly #warnings: WarningThrottle;
  #setup: KafkaBackplaneSetup | undefined;
  #state: State = 'new';
  #deliver: ((message: BackplaneMessage) => void) | undefined;
  #closing: Promise<void> | undefined;
  #admin: KafkaAdminLike | undefined;
  #producer: KafkaProducerLike | undefined;
  #consumer: KafkaConsumerLike | undefined;
  #partitions = 0;
  /** Per partition, the offset of the next record to read. */
  readonly #next = new Map<number, number>();
  #joined = false;
  #lostConsumer = false;
  #queue: Queued[] = [];
  #pendingBytes = 0;
  #sending = false;
  #failingSince: number | undefined;
  #lastError: string | undefined;
  #published = 0;
  #events: BackplaneEvents | undefined;
  #received = 0;
  #notRelayed = { tooLarge: 0, backlog: 0, failed: 0 };
  #refused = { tooLarge: 0, malformed: 0 };

  constructor(prepare: KafkaBackplanePreparation, logger: Logger = silentLogger) {
    this.#prepare = prepare;
    this.#logger = logger;
    this.#warnings = new WarningThrottle(logger);
    this.#nodeId = randomBytes(16);
    this.nodeId = this.#nodeId.toString('hex');
  }

  /** The relay topic (known once `start()` has resolved the settings). */
  get topic(): string | undefined {
    return this.#setup?.topic;
  }

  /** This node's consumer group (known once `start()` has resolved the settings). */
  get groupId(): string | undefined {
    return this.#setup?.groupId;
  }

  /** Where it relays through: the broker list (known once `start()` has resolved the settings). */
  get location(): string | undefined {
    return this.#setup?.location;
  }

  /** The producer's last send succeeded and the consumer is in its group, reading. */
  get connected(): boolean {
    return this.#state === 'running' && this.#joined && this.#failingSince === undefined;
  }

  stats(): KafkaBackplaneStats {
    return {
      connected: this.connected,
      published: this.#published,
      received: this.#received,
      notRelayed: { ...this.#notRelayed },
      refused: { ...this.#refused },
    };
  }

  /**
   * Resolves the settings, creates the relay topic when it does not exist, connects the producer and joins
   * this node's consumer group at the end of the topic. Resolves once the consumer has joined, so that the
   * records sent from then on reach this node. Rejects with the settings' error (`INVALID_OPTION`,
   * `PROVIDER_UNAVAILABLE`), with `PROVIDER_FAILED` when Kafka cannot be reached within `startTimeoutMs`, or
   * when the consumer group is shared with another consumer; `CLOSED` after `close()`.
   */
  async start(deliver: (message: BackplaneMessage) => void, events?: BackplaneEvents): Promise<void> {
    if (this.#state === 'closed')
      throw new AtmosphereError('CLOSED', 'This Kafka backplane was closed; create another one to start.');
    if (this.#state !== 'new')
      throw new AtmosphereError('INVALID_OPTION', 'start() of a Kafka backplane may be called only once.');
    this.#state = 'starting';
    this.#deliver = deliver;
    this.#events = events;
    let setup: KafkaBackplaneSetup;
    try {
      setup = await this.#prepare(this.nodeId);
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#setup = setup;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const last = this.#lastError ?? setup.lastClientError?.();
        reject(
          new AtmosphereError(
            'PROVIDER_FAILED',
            `The Kafka backplane could not reach ${setup.location} within ${setup.startTimeoutMs} ms` +
              `${last ? ` (last error: ${last})` : ''}. Start Kafka there, or ${setup.fix}.`,
          ),
        );
      }, setup.startTimeoutMs);
    });
    const connecting = this.#connect(setup);
    try {
      await Promise.race([connecting, timeout]);
    } catch (error) {
      connecting.catch(() => undefined);
      await this.close();
      if (AtmosphereError.isInstance(error)) throw error;
      throw new AtmosphereError(
        'PROVIDER_FAILED',
        `The Kafka backplane could not start on ${setup.location}: ${this.#lastError ?? message(error)}. ` +
          `Start Kafka there, or ${setup.fix}.`,
        { cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
    if (this.#state !== 'starting')
      throw new AtmosphereError('CLOSED', 'The Kafka backplane was closed while it was starting.');
    this.#state = 'running';
    this.#logger.info(
      `kafka backplane: node ${this.nodeId} relays through ${setup.location} on topic ${setup.topic} ` +
        `(${this.#partitions} partitions, consumer group ${setup.groupId})`,
    );
  }

  async #connect(setup: KafkaBackplaneSetup): Promise<void> {
    const { kafka, topic } = setup;
    const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
      try {
        return await run();
      } catch (error) {
        this.#lastError = `${what}: ${message(error)}`;
        throw error;
      }
    };
    const admin = kafka.admin({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } });
    this.#admin = admin;
    await step('connecting', () => admin.connect());
    await step(`creating topic ${topic}`, () =>
      admin.createTopics({ topics: [{ topic, numPartitions: setup.partitions }], waitForLeaders: true }),
    );
    const metadata = await step(`reading the metadata of ${topic}`, () =>
      admin.fetchTopicMetadata({ topics: [topic] }),
    );
    this.#partitions = metadata.topics[0]?.partitions.length ?? 0;
    if (this.#partitions === 0) throw new Error(`topic ${topic} has no partitions`);
    for (const { partition, high } of await step(`reading the offsets of ${topic}`, () =>
      admin.fetchTopicOffsets(topic),
    ))
      this.#next.set(partition, Number(high));
    this.#checkOpen();
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1_000 },
      // Partitions are chosen here (by broadcaster); this only silences kafkajs' partitioner notice.
      createPartitioner: () => (args: { message: { partition?: number } }) => args.message.partition ?? 0,
    });
    this.#producer = producer;
    await step('connecting the producer', () => producer.connect());
    this.#checkOpen();
    const consumer = kafka.consumer({
      groupId: setup.groupId,
      allowAutoTopicCreation: false,
      maxWaitTimeInMs: FETCH_WAIT_MS,
      retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
    });
    this.#consumer = consumer;
    const joined = new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.GROUP_JOIN, (event) => {
        try {
          this.#onJoin(consumer, event.payload);
          resolve();
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      });
    });
    consumer.on(consumer.events.CRASH, (event) => this.#onCrash(event.payload));
    await step('connecting the consumer', () => consumer.connect());
    await step(`subscribing to ${topic}`, () =>
      consumer.subscribe({ topics: [topic], fromBeginning: false }),
    );
    this.#checkOpen();
    await step('starting the consumer', () =>
      consumer.run({
        autoCommit: false,
        eachMessage: async ({ partition, message }) => this.#receive(partition, message),
      }),
    );
    await joined;
  }

  #checkOpen(): void {
    if (this.#state === 'closed')
      throw new AtmosphereError('CLOSED', 'The Kafka backplane was closed while it was starting.');
  }

  /** After every join (the first, and after each lost connection): read on from where this node stopped. */
  #onJoin(consumer: KafkaConsumerLike, payload: Record<string, unknown>): void {
    const topic = this.#setup!.topic;
    const assignment = (payload['memberAssignment'] as Record<string, number[]> | undefined)?.[topic] ?? [];
    if (assignment.length !== this.#partitions) {
      const problem =
        `kafka backplane: the consumer group ${this.#setup!.groupId} is shared with another consumer: this node ` +
        `was given ${assignment.length} of the ${this.#partitions} partitions of ${topic}, so it would miss the ` +
        'broadcasts of the others. Give every node its own group (leave groupId unset for a generated one).';
      if (this.#state === 'starting') throw new AtmosphereError('PROVIDER_FAILED', problem);
      this.#logger.error(problem);
    }
    for (const partition of assignment) {
      const offset = this.#next.get(partition);
      if (offset !== undefined) consumer.seek({ topic, partition, offset: String(offset) });
    }
    this.#joined = true;
    if (this.#lostConsumer) {
      this.#lostConsumer = false;
      this.#logger.info(`kafka backplane: consuming ${topic} again, from the record after the last one read`);
    }
  }

  #onCrash(payload: Record<string, unknown>): void {
    if (this.#state === 'closed') return;
    this.#joined = false;
    const error = message(payload['error']);
    this.#lastError = error;
    if (payload['restart'] === true) {
      if (!this.#lostConsumer)
        this.#logger.warn(
          `kafka backplane: lost the consumer's connection to ${this.#setup?.location} (${error}); reconnecting ` +
            '(messages from other nodes arrive when it is back, none skipped)',
        );
      this.#lostConsumer = true;
    } else {
      this.#logger.error(
        `kafka backplane: the consumer stopped for good (${error}); broadcasts of other nodes no longer reach this node. Restart the node.`,
      );
    }
  }

  /**
   * Relays a broadcast of this node to the others. Never throws and never waits: records are sent in order,
   * in batches, one batch at a time. A broadcast that cannot be relayed is counted and logged (throttled).
   */
  publish(message: BackplaneMessage): void {
    const setup = this.#setup;
    if (this.#state !== 'running' || setup === undefined) return;
    let encoded: ReturnType<typeof encodeRelayRecord>;
    try {
      encoded = encodeRelayRecord(this.#nodeId, message, 0);
      // One broadcaster, one partition: its messages stay in order.
      encoded.record.partition = fnv1a(encoded.record.key) % this.#partitions;
    } catch (error) {
      this.#notRelayed.failed++;
      const detail = `a broadcast on ${message.broadcaster} could not be encoded and was not relayed: ${(error as Error).message}`;
      this.#warnings.warn('encode', `kafka backplane: ${detail}`);
      this.#report('failed', message.broadcaster, 1, detail);
      return;
    }
    if (encoded.bytes > setup.maxMessageBytes) {
      this.#notRelayed.tooLarge++;
      const detail =
        `a broadcast on ${message.broadcaster} (${encoded.bytes} bytes) is larger than maxMessageBytes ` +
        `(${setup.maxMessageBytes}) and was delivered on this node only`;
      this.#warnings.warn('too-large-out', `kafka backplane: ${detail}`);
      this.#report('too-large', message.broadcaster, 1, detail);
      return;
    }
    if (this.#pendingBytes + encoded.bytes > setup.maxPendingBytes) {
      this.#notRelayed.backlog++;
      const detail =
        `Kafka has not acknowledged ${this.#pendingBytes} bytes (maxPendingBytes ` +
        `${setup.maxPendingBytes}); a broadcast on ${message.broadcaster} was delivered on this node only`;
      this.#warnings.warn('backlog', `kafka backplane: ${detail}`);
      this.#report('backlog', message.broadcaster, 1, detail);
      return;
    }
    this.#pendingBytes += encoded.bytes;
    this.#queue.push({ record: encoded.record, bytes: encoded.bytes, broadcaster: message.broadcaster });
    if (!this.#sending) void this.#pump();
  }

  #report(reason: RelayFailureReason, broadcaster: string, count: number, detail: string): void {
    const events = this.#events;
    if (events === undefined) return;
    try {
      events.relayFailed({ backplane: this.name, broadcaster, reason, count, detail });
    } catch (error) {
      this.#logger.error('kafka backplane: the relay-failure listener threw', { error });
    }
  }

  async #pump(): Promise<void> {
    const setup = this.#setup!;
    this.#sending = true;
    try {
      while (this.#queue.length > 0 && this.#state === 'running') {
        // One request stays under the broker's batch limit: as many records as fit in maxMessageBytes.
        let count = 0;
        let bytes = 0;
        while (
          count < this.#queue.length &&
          (count === 0 || bytes + this.#queue[count]!.bytes <= setup.maxMessageBytes)
        ) {
          bytes += this.#queue[count]!.bytes;
          count++;
        }
        const batch = this.#queue.splice(0, count);
        try {
          await this.#producer!.send({ topic: setup.topic, acks: -1, messages: batch.map((q) => q.record) });
          this.#published += batch.length;
          if (this.#failingSince !== undefined) {
            this.#logger.info(
              `kafka backplane: relaying through ${setup.location} again; ${this.#notRelayed.failed - this.#failingSince} broadcast(s) of this node were not relayed meanwhile`,
            );
            this.#failingSince = undefined;
          }
        } catch (error) {
          if (this.#state !== 'running') return;
          this.#failingSince ??= this.#notRelayed.failed;
          this.#notRelayed.failed += batch.length;
          this.#lastError = message(error);
          const detail =
            `${batch.length} broadcast(s) (the first on ${batch[0]!.broadcaster}) were not relayed: ` +
            `${message(error)}; they reached this node's clients only`;
          this.#warnings.warn('send-failed', `kafka backplane: ${detail}`);
          this.#report('failed', batch[0]!.broadcaster, batch.length, detail);
        } finally {
          this.#pendingBytes -= bytes;
        }
      }
    } finally {
      this.#sending = false;
    }
  }

  #receive(partition: number, record: KafkaMessageLike): void {
    this.#next.set(partition, Number(record.offset) + 1);
    const deliver = this.#deliver;
    const setup = this.#setup;
    // Records may arrive between the consumer's join and the end of start(): they are delivered too.
    if (deliver === undefined || setup === undefined || this.#state === 'closed') return;
    const size = recordSize(record);
    if (size > setup.maxMessageBytes) {
      this.#refused.tooLarge++;
      this.#warnings.warn(
        'too-large-in',
        `kafka backplane: dropped a ${size}-byte record at ${setup.topic}/${partition}@${record.offset}: larger than ` +
          `maxMessageBytes (${setup.maxMessageBytes})`,
      );
      return;
    }
    if (isFromNode(record, this.#nodeId)) return;
    let decoded: BackplaneMessage;
    try {
      decoded = decodeRelayRecord(record);
    } catch (error) {
      this.#refused.malformed++;
      this.#warnings.warn(
        'malformed',
        `kafka backplane: dropped a malformed record at ${setup.topic}/${partition}@${record.offset}: ${(error as Error).message}`,
      );
      return;
    }
    this.#received++;
    try {
      deliver(decoded);
    } catch (error) {
      this.#logger.error(`kafka backplane: delivering a message on ${decoded.broadcaster} failed`, { error });
    }
  }

  /**
   * Stops the consumer (leaving its group), the producer and the admin client; waits at most 2 s for kafkajs to
   * let go of a broker that stopped answering. Idempotent: every call returns the same promise.
   */
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
    this.#joined = false;
    const dropped = this.#queue.length;
    this.#queue = [];
    if (dropped > 0)
      this.#logger.warn(
        `kafka backplane: closed with ${dropped} broadcast(s) not yet sent; they were not relayed`,
      );
    // kafkajs waits for requests in flight; a broker that stopped answering must not hold close() up.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(
        [this.#consumer, this.#producer, this.#admin].map((client) =>
          client === undefined ? Promise.resolve() : client.disconnect().catch(() => undefined),
        ),
      ),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
    ]);
    clearTimeout(timer);
  }
}
