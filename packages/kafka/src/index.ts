/**
 * `@atmosphere/kafka`: the Kafka backplane and stream log. Broadcasts made on any node reach the subscribers of
 * every node through a Kafka topic; `kafkaStreamLog()` keeps each stream in a topic of its own. `createAtmosphere({ providers: [kafkaBackplane({ brokers })] })`, or install the
 * package and set `ATMOSPHERE_KAFKA_BROKERS` / `KAFKA_BROKERS` (the `register` entry).
 */
export {
  KAFKA_BACKPLANE_DEFAULTS,
  KAFKA_ENV,
  type KafkaBackplaneStats,
  type KafkaSaslOptions,
  type KafkaSslOptions,
} from './config.ts';
export type {
  KafkaAdminLike,
  KafkaConsumerLike,
  KafkaHeaderValue,
  KafkaLike,
  KafkaMessageLike,
  KafkaOutgoingMessage,
  KafkaProducerLike,
} from './kafka-client.ts';
export { KafkaBackplane } from './kafka-backplane.ts';
export { KAFKA_BACKPLANE_PROVIDER, kafkaBackplane, kafkaBackplaneFromEnvironment } from './provider.ts';
export { type KafkaBackplaneOptions, resolveKafkaSettings, type ResolvedKafkaSettings } from './settings.ts';
export { KafkaStreamLog, type KafkaStreamLogSetup } from './kafka-stream-log.ts';
export { KAFKA_STREAM_LOG_PROVIDER, kafkaStreamLog, type KafkaStreamLogOptions } from './log-provider.ts';
