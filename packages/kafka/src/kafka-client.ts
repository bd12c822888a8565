import { AtmosphereError } from '@atmosphere/runtime';

/**
 * The parts of kafkajs the package uses, structurally, so that an application's own `Kafka` instance (from
 * its copy of kafkajs 2.x) fits without this package's types depending on kafkajs.
 */
export interface KafkaLike {
  producer(config?: Record<string, unknown>): KafkaProducerLike;
  consumer(config: { groupId: string } & Record<string, unknown>): KafkaConsumerLike;
  admin(config?: Record<string, unknown>): KafkaAdminLike;
}

/** A header value as kafkajs hands it over. */
export type KafkaHeaderValue = Buffer | string | (Buffer | string)[] | undefined;

/** A record as kafkajs hands it to `eachMessage`. */
export interface KafkaMessageLike {
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly offset: string;
  readonly timestamp: string;
  readonly headers?: Record<string, KafkaHeaderValue>;
}

/** A record as given to `producer.send`. */
export interface KafkaOutgoingMessage {
  key: Buffer;
  value: Buffer;
  partition: number;
  headers: Record<string, Buffer>;
}

/** The part of a kafkajs producer the package uses. */
export interface KafkaProducerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  send(record: { topic: string; acks?: number; messages: KafkaOutgoingMessage[] }): Promise<unknown>;
}

/** The part of a kafkajs consumer the package uses (events: `consumer.group_join`, `consumer.crash`). */
export interface KafkaConsumerLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: {
    autoCommit?: boolean;
    eachMessage(payload: { topic: string; partition: number; message: KafkaMessageLike }): Promise<void>;
  }): Promise<void>;
  seek(position: { topic: string; partition: number; offset: string }): void;
  on(event: string, listener: (event: { payload: Record<string, unknown> }) => void): () => void;
  readonly events: { readonly GROUP_JOIN: string; readonly CRASH: string; readonly CONNECT: string };
}

/** The part of a kafkajs admin client the package uses. */
export interface KafkaAdminLike {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  createTopics(options: {
    topics: {
      topic: string;
      numPartitions?: number;
      replicationFactor?: number;
      configEntries?: { name: string; value: string }[];
    }[];
    waitForLeaders?: boolean;
  }): Promise<boolean>;
  listTopics(): Promise<string[]>;
  deleteTopicRecords(options: {
    topic: string;
    partitions: { partition: number; offset: string }[];
  }): Promise<void>;
  fetchTopicMetadata(options: { topics: string[] }): Promise<{
    topics: { name: string; partitions: { partitionId: number }[] }[];
  }>;
  fetchTopicOffsets(
    topic: string,
  ): Promise<{ partition: number; offset: string; high: string; low: string }[]>;
}

/** What the package needs from the kafkajs module when it makes its own client. */
export interface KafkajsModule {
  Kafka: new (config: Record<string, unknown>) => KafkaLike;
  logLevel: { NOTHING: number; ERROR: number; WARN: number; INFO: number; DEBUG: number };
}

/**
 * Loads kafkajs, a peer dependency needed only when the package makes its own client (an application that
 * passes its `Kafka` instance brings its own). Throws `PROVIDER_UNAVAILABLE` saying what to install.
 */
export async function loadKafkajs(): Promise<KafkajsModule> {
  try {
    const module = (await import('kafkajs')) as unknown as KafkajsModule & { default?: KafkajsModule };
    return typeof module.Kafka === 'function' ? module : module.default!;
  } catch (error) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'The Kafka backplane connects with kafkajs, which is not installed: add it (npm install kafkajs), or pass a kafkajs Kafka instance as kafkaBackplane({ kafka }).',
      { cause: error },
    );
  }
}
