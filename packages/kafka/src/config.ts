import type { ConnectionOptions } from 'node:tls';

/** The environment variables read by {@link kafkaBackplane} (options win over them). */
export const KAFKA_ENV = Object.freeze({
  /** Comma-separated `host:port` list. Read first; {@link KAFKA_ENV.brokersFallback} after it. */
  brokers: 'ATMOSPHERE_KAFKA_BROKERS',
  /** The conventional variable, read when `ATMOSPHERE_KAFKA_BROKERS` is not set. */
  brokersFallback: 'KAFKA_BROKERS',
  topicPrefix: 'ATMOSPHERE_KAFKA_TOPIC_PREFIX',
  clientId: 'ATMOSPHERE_KAFKA_CLIENT_ID',
  groupId: 'ATMOSPHERE_KAFKA_GROUP_ID',
  /** `true` (or `1`) connects with TLS. */
  ssl: 'ATMOSPHERE_KAFKA_SSL',
  /** `plain`, `scram-sha-256` or `scram-sha-512`; with the two below. */
  saslMechanism: 'ATMOSPHERE_KAFKA_SASL_MECHANISM',
  saslUsername: 'ATMOSPHERE_KAFKA_SASL_USERNAME',
  saslPassword: 'ATMOSPHERE_KAFKA_SASL_PASSWORD',
});

/** Defaults of {@link KafkaBackplaneConfig}. */
export const KAFKA_BACKPLANE_DEFAULTS = Object.freeze({
  brokers: 'localhost:9092',
  topicPrefix: 'atmosphere.',
  clientId: 'atmosphere',
  /** Partitions of the relay topic when the backplane creates it. */
  partitions: 8,
  /** Below Kafka's default `message.max.bytes` (1 048 588), with room for the batch and record overhead. */
  maxMessageBytes: 1_000_000,
  maxPendingBytes: 32 * 1024 * 1024,
  startTimeoutMs: 15_000,
});

/** SASL settings passed to kafkajs as they are (`plain`, `scram-sha-256`, `scram-sha-512`, or another mechanism kafkajs knows). */
export type KafkaSaslOptions =
  | {
      readonly mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512';
      readonly username: string;
      readonly password: string;
    }
  | { readonly mechanism: string; readonly [setting: string]: unknown };

/** Counters of one Kafka backplane, since it was created. */
export interface KafkaBackplaneStats {
  /** The producer is connected and the consumer has joined its group. */
  readonly connected: boolean;
  /** Broadcasts Kafka acknowledged. */
  readonly published: number;
  /** Records from other nodes handed to the runtime. */
  readonly received: number;
  /** Broadcasts of this node that were not relayed, by reason. */
  readonly notRelayed: {
    /** Larger than `maxMessageBytes`. */
    readonly tooLarge: number;
    /** `maxPendingBytes` were waiting for Kafka already. */
    readonly backlog: number;
    /** Kafka refused them or could not be reached after the producer's retries. */
    readonly failed: number;
  };
  /** Records of the relay topic that were dropped, by reason. */
  readonly refused: {
    /** Larger than `maxMessageBytes`. */
    readonly tooLarge: number;
    /** Not a relay record of a format this node reads. */
    readonly malformed: number;
  };
}

/** TLS for the broker connections: `true` for the system's CAs, or Node's TLS options. */
export type KafkaSslOptions = boolean | ConnectionOptions;
