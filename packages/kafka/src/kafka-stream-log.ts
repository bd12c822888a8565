import { createHash, randomUUID } from 'node:crypto';
import { AtmosphereError } from '@atmosphere/runtime';
import type {
  LogEntry,
  LogRead,
  LogReadOptions,
  Logger,
  StreamLog,
  StreamPosition,
  StreamState,
} from '@atmosphere/runtime/spi';
import type { KafkaAdminLike, KafkaLike } from './kafka-client.ts';
import {
  decodeLogRecord,
  deletedRecord,
  entryRecord,
  epochRecord,
  type LogOutgoingRecord,
  type LogTopicRecord,
  outgoingSize,
} from './log-format.ts';
import { PartitionReader } from './partition-reader.ts';
import { WarningThrottle } from '@atmosphere/runtime/spi';
import { MalformedRecordError } from './wire-format.ts';

/** What a {@link KafkaStreamLog} works with; made by `kafkaStreamLog()`. */
export interface KafkaStreamLogSetup {
  readonly kafka: KafkaLike;
  /** Prefix of the stream topics: a stream lives in `<prefix>log.<name>.<hash>`. */
  readonly topicPrefix: string;
  /** Replication factor of the stream topics it creates; -1 takes the broker's default. */
  readonly replicationFactor: number;
  /** Largest record (payload and headers) an append may carry. */
  readonly maxRecordBytes: number;
  /** `retention.ms` of the stream topics it creates: Kafka drops older segments (never the newest). */
  readonly retentionMs: number;
  readonly logger: Logger;
}

/** How much one fetch asks for; a broker returns at least one whole record batch however large. */
const FETCH_BYTES = 1024 * 1024;
/** How long a node that did not create a stream's topic waits for its creator's epoch record. */
const EPOCH_WAIT_MS = 5_000;
const EPOCH_POLL_MS = 25;
const CLOSE_TIMEOUT_MS = 2_000;

interface Resolved {
  readonly topic: string;
  readonly epoch: string;
  /** Offset of the epoch record: an entry's seq is its offset minus this. */
  readonly base: number;
}

interface PendingAppend {
  readonly entries: readonly LogEntry[];
  resolve(position: StreamPosition): void;
  reject(error: unknown): void;
}

interface Head {
  readonly low: number;
  readonly high: number;
}

function closedError(): AtmosphereError {
  return new AtmosphereError('CLOSED', 'This Kafka stream log was closed; create another one.');
}

/**
 * The log on Kafka (provider kind `stream-log`): each stream is a single-partition topic, and a record's offset
 * is its position — seq = offset − the offset of the stream's epoch record. Streams survive restarts and are
 * shared by every node on the same brokers and prefix (`durable`, `shared`).
 *
 * - The first append to a stream creates its topic (atomic in Kafka: one node wins) and its creator writes the
 *   epoch record at offset 0; every entry then carries its epoch and base in headers, so the oldest record held
 *   always tells the epoch, even after trimming.
 * - `trim(stream, before)` deletes the records before seq `before − 1` (Kafka's DeleteRecords): the record kept
 *   just before the first one readable anchors the epoch.
 * - `delete(stream)` appends a `deleted` record and deletes everything before it; the next append writes a new
 *   epoch record after it. Topics are never deleted by the log (Kafka deletes topics asynchronously, and
 *   kafkajs keeps failing on a topic that vanished from under it).
 * - Appends to one stream are sent one after the other, in the order they were called, each as one batch.
 *
 * Costs and limits (docs/decisions/0005-kafka-topic-layout.md): a partition per stream, so it suits hundreds of
 * long-lived streams, not one per message burst; if two nodes start a new epoch of a deleted stream at the same
 * moment, the first epoch record wins and the second leaves a one-number hole.
 */
export class KafkaStreamLog implements StreamLog {
  readonly name = 'kafka';
  readonly durable = true;
  readonly shared = true;
  readonly topicPrefix: string;
  readonly #setup: KafkaStreamLogSetup;
  readonly #admin: KafkaAdminLike;
  readonly #producer: ReturnType<KafkaLike['producer']>;
  readonly #reader: PartitionReader;
  readonly #resolved = new Map<string, Resolved>();
  readonly #known = new Set<string>();
  readonly #chains = new Map<string, Promise<unknown>>();
  readonly #pending = new Map<string, PendingAppend[]>();
  readonly #warnings: WarningThrottle;
  #closed = false;
  #closing: Promise<void> | undefined;

  private constructor(
    setup: KafkaStreamLogSetup,
    admin: KafkaAdminLike,
    producer: ReturnType<KafkaLike['producer']>,
    reader: PartitionReader,
  ) {
    this.#setup = setup;
    this.#warnings = new WarningThrottle(setup.logger);
    this.topicPrefix = setup.topicPrefix;
    this.#admin = admin;
    this.#producer = producer;
    this.#reader = reader;
  }

  /** Connects an admin client and a producer; rejects with kafkajs' error when the brokers cannot be reached. */
  static async open(setup: KafkaStreamLogSetup): Promise<KafkaStreamLog> {
    const reader = new PartitionReader(setup.kafka);
    const admin = setup.kafka.admin({ retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 } });
    const producer = setup.kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      maxInFlightRequests: 1,
      createPartitioner: () => () => 0,
    });
    try {
      await admin.connect();
      await producer.connect();
    } catch (error) {
      await Promise.all([
        admin.disconnect().catch(() => undefined),
        producer.disconnect().catch(() => undefined),
      ]);
      throw error;
    }
    return new KafkaStreamLog(setup, admin, producer, reader);
  }

  /** The topic a stream lives in: readable part of the name, and a hash so that no two streams share one. */
  topicOf(stream: string): string {
    const readable = stream.replace(/[^a-zA-Z0-9._-]/g, '_').slice(0, 100);
    const hash = createHash('sha256').update(stream).digest('hex').slice(0, 16);
    return `${this.topicPrefix}log.${readable}.${hash}`;
  }

  /**
   * Appends go out in the order they were called. Those made while a send to the same stream is on its way are
   * sent together, in one batch (up to `maxRecordBytes`), so a stream's rate is not bounded by one round trip
   * per message. An entry over `maxRecordBytes` rejects its own append only.
   */
  append(stream: string, entries: readonly LogEntry[]): Promise<StreamPosition> {
    if (this.#closed) return Promise.reject(closedError());
    if (entries.length === 0)
      return Promise.reject(new AtmosphereError('INVALID_OPTION', 'append() needs at least one entry.'));
    return new Promise<StreamPosition>((resolve, reject) => {
      let queue = this.#pending.get(stream);
      if (queue === undefined) {
        queue = [];
        this.#pending.set(stream, queue);
      }
      queue.push({ entries, resolve, reject });
      if (queue.length === 1) void this.#serial(stream, () => this.#flush(stream)).catch(() => undefined);
    });
  }

  /** Sends what is queued for a stream (as much as fits in one batch; the rest is flushed next). */
  async #flush(stream: string): Promise<void> {
    const queue = this.#pending.get(stream);
    if (queue === undefined || queue.length === 0) return;
    let taken: PendingAppend[] = [];
    try {
      const at = await this.#resolve(stream, true);
      const batch: { append: PendingAppend; records: LogOutgoingRecord[] }[] = [];
      let bytes = 0;
      while (queue.length > 0) {
        const append = queue[0]!;
        const records = append.entries.map((entry) => entryRecord(entry, at.epoch, at.base));
        const sizes = records.map(outgoingSize);
        const largest = Math.max(...sizes);
        if (largest > this.#setup.maxRecordBytes) {
          queue.shift();
          append.reject(
            new AtmosphereError(
              'MESSAGE_TOO_LARGE',
              `A ${largest}-byte entry for stream ${stream} is larger than the Kafka stream log's maxRecordBytes (${this.#setup.maxRecordBytes}); raise it (and the brokers' message.max.bytes) or send less.`,
            ),
          );
          continue;
        }
        const size = sizes.reduce((sum, one) => sum + one, 0);
        if (batch.length > 0 && bytes + size > this.#setup.maxRecordBytes) break;
        queue.shift();
        batch.push({ append, records });
        bytes += size;
      }
      taken = batch.map((item) => item.append);
      if (batch.length > 0) {
        const offset = await this.#send(
          at.topic,
          batch.flatMap((item) => item.records),
        );
        let seq = offset - at.base;
        for (const { append } of batch) {
          append.resolve({ epoch: at.epoch, seq });
          seq += append.entries.length;
        }
      }
    } catch (error) {
      // The send failed: its appends fail. When the stream could not even be resolved, so does everything queued.
      const failed = taken.length > 0 ? taken : queue.splice(0);
      for (const append of failed) append.reject(error);
    }
    if (queue.length > 0) void this.#serial(stream, () => this.#flush(stream)).catch(() => undefined);
    else this.#pending.delete(stream);
  }

  async read(stream: string, after: number, options: LogReadOptions = {}): Promise<LogRead | undefined> {
    this.#check();
    const limit = options.limit ?? 1_000;
    // Reads see what other nodes did (a delete, a new epoch): they resolve the stream afresh.
    const at = await this.#resolve(stream, false, true);
    if (at === undefined) return undefined;
    const head = await this.#head(at.topic);
    const state = this.#state(at, head);
    const records: LogRead['records'][number][] = [];
    let offset = at.base + Math.max(after + 1, state.first);
    // Bounded: each fetch moves the offset forward by at least one record, or the loop ends.
    while (records.length < limit && offset < head.high) {
      const messages = await this.#reader.read(at.topic, offset, FETCH_BYTES);
      if (messages.length === 0) break;
      for (const message of messages) {
        const position = Number(message.offset);
        if (position >= head.high || records.length >= limit) break;
        offset = position + 1;
        const decoded = this.#decode(at.topic, message);
        if (decoded?.kind === 'entry' && decoded.epoch === at.epoch) records.push(decoded.record);
      }
    }
    return { ...state, records };
  }

  async state(stream: string): Promise<StreamState | undefined> {
    this.#check();
    const at = await this.#resolve(stream, false, true);
    if (at === undefined) return undefined;
    return this.#state(at, await this.#head(at.topic));
  }

  trim(stream: string, before: number): Promise<void> {
    return this.#serial(stream, async () => {
      const at = await this.#resolve(stream, false);
      if (at === undefined) return;
      const head = await this.#head(at.topic);
      // Keep the record of seq before − 1 (or the epoch record): it anchors the epoch and the numbering.
      const keep = Math.min(at.base + before - 1, head.high - 1);
      if (keep > head.low)
        await this.#admin.deleteTopicRecords({
          topic: at.topic,
          partitions: [{ partition: 0, offset: String(keep) }],
        });
    });
  }

  delete(stream: string): Promise<void> {
    return this.#serial(stream, async () => {
      const at = await this.#resolve(stream, false);
      this.#resolved.delete(stream);
      if (at === undefined) return;
      const offset = await this.#send(at.topic, [deletedRecord()]);
      await this.#admin.deleteTopicRecords({
        topic: at.topic,
        partitions: [{ partition: 0, offset: String(offset) }],
      });
    });
  }

  /** Disconnects the admin client, the producer and the reader (at most 2 s). Idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#closed = true;
      for (const queue of this.#pending.values())
        for (const append of queue.splice(0)) append.reject(closedError());
      this.#pending.clear();
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([
          this.#producer.disconnect().catch(() => undefined),
          this.#admin.disconnect().catch(() => undefined),
          this.#reader.close(),
        ]),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS))),
      ]);
      clearTimeout(timer);
    })();
    return this.#closing;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #check(): void {
    if (this.#closed) throw closedError();
  }

  /** Runs the mutations of one stream one after the other, in call order. */
  #serial<T>(stream: string, run: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(closedError());
    const previous = this.#chains.get(stream) ?? Promise.resolve();
    const next = previous.then(
      () => (this.#closed ? Promise.reject(closedError()) : run()),
      () => (this.#closed ? Promise.reject(closedError()) : run()),
    );
    const settled = next.catch(() => undefined);
    this.#chains.set(stream, settled);
    void settled.then(() => {
      if (this.#chains.get(stream) === settled) this.#chains.delete(stream);
    });
    return next;
  }

  #state(at: Resolved, head: Head): StreamState {
    return { epoch: at.epoch, first: Math.max(head.low - at.base + 1, 1), last: head.high - 1 - at.base };
  }

  /** Sends records in one batch; resolves to the offset of the first. */
  async #send(topic: string, records: LogOutgoingRecord[]): Promise<number> {
    const result = (await this.#producer.send({
      topic,
      acks: -1,
      messages: records.map((record) => ({ ...record, key: Buffer.alloc(0), partition: 0 })),
    })) as { baseOffset?: string }[];
    const offset = Number(result[0]?.baseOffset);
    if (!Number.isSafeInteger(offset))
      throw new Error(`Kafka did not say where the records to ${topic} went`);
    return offset;
  }

  async #head(topic: string): Promise<Head> {
    const offsets = await this.#admin.fetchTopicOffsets(topic);
    const partition = offsets.find((p) => p.partition === 0);
    if (partition === undefined) throw new Error(`topic ${topic} has no partition 0`);
    return { low: Number(partition.low), high: Number(partition.high) };
  }

  #decode(topic: string, message: Parameters<typeof decodeLogRecord>[0]): LogTopicRecord | undefined {
    try {
      return decodeLogRecord(message);
    } catch (error) {
      if (!(error instanceof MalformedRecordError)) throw error;
      this.#warnings.warn('malformed', `kafka stream log: skipped a record of ${topic}: ${error.message}`);
      return undefined;
    }
  }

  async #exists(topic: string): Promise<boolean> {
    if (this.#known.has(topic)) return true;
    if (!(await this.#admin.listTopics()).includes(topic)) return false;
    this.#known.add(topic);
    return true;
  }

  /**
   * The stream's topic, epoch and base: from the oldest record held (an entry or the epoch record), or, after a
   * `deleted` record, from the record after it. With `create`, makes the topic and the epoch as needed.
   */
  async #resolve(stream: string, create: true): Promise<Resolved>;
  async #resolve(stream: string, create: false, fresh?: boolean): Promise<Resolved | undefined>;
  async #resolve(stream: string, create: boolean, fresh = false): Promise<Resolved | undefined> {
    const cached = this.#resolved.get(stream);
    if (cached !== undefined && !fresh) return cached;
    const topic = this.topicOf(stream);
    let creator = false;
    if (!(await this.#exists(topic))) {
      if (!create) {
        this.#resolved.delete(stream);
        return undefined;
      }
      creator = await this.#admin.createTopics({
        topics: [
          {
            topic,
            numPartitions: 1,
            replicationFactor: this.#setup.replicationFactor,
            configEntries: [{ name: 'retention.ms', value: String(this.#setup.retentionMs) }],
          },
        ],
        waitForLeaders: true,
      });
      this.#known.add(topic);
    }
    let wroteEpoch = false;
    const deadline = Date.now() + EPOCH_WAIT_MS;
    for (;;) {
      this.#check();
      const head = await this.#head(topic);
      const held = head.low < head.high ? await this.#reader.read(topic, head.low, FETCH_BYTES) : [];
      const [oldest, next] = held.slice(0, 2).map((message) => this.#decode(topic, message));
      const current = oldest?.kind === 'deleted' ? next : oldest;
      if (current !== undefined) {
        const resolved: Resolved =
          current.kind === 'epoch'
            ? { topic, epoch: current.epoch, base: current.offset }
            : current.kind === 'entry'
              ? { topic, epoch: current.epoch, base: current.base }
              : { topic, epoch: '', base: -1 };
        if (resolved.base >= 0) {
          this.#resolved.set(stream, resolved);
          return resolved;
        }
      }
      if (!create) {
        this.#resolved.delete(stream);
        return undefined;
      }
      // A new stream (its creator writes the epoch; others wait for it, then take over) or one after `deleted`.
      const mayWrite = creator || oldest?.kind === 'deleted' || Date.now() > deadline;
      if (mayWrite && !wroteEpoch) {
        await this.#send(topic, [epochRecord(randomUUID())]);
        wroteEpoch = true;
        continue;
      }
      if (Date.now() > deadline + EPOCH_WAIT_MS)
        throw new AtmosphereError(
          'PROVIDER_FAILED',
          `The Kafka stream log found no epoch record in ${topic}; the topic may hold records of something else. Delete it, or use another topicPrefix.`,
        );
      await new Promise((resolve) => setTimeout(resolve, EPOCH_POLL_MS));
    }
  }
}
