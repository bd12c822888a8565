import { AtmosphereError } from '@atmosphere/runtime';
import type { Availability, Provider } from '@atmosphere/runtime/spi';
import { makeKafka } from './client-factory.ts';
import { KafkaStreamLog } from './kafka-stream-log.ts';
import { type KafkaBackplaneOptions, resolveKafkaSettings } from './settings.ts';

/** Options of {@link kafkaStreamLog}: the connection options of `kafkaBackplane()`, and two of its own. */
export interface KafkaStreamLogOptions extends Pick<
  KafkaBackplaneOptions,
  'brokers' | 'kafka' | 'topicPrefix' | 'clientId' | 'ssl' | 'sasl' | 'startTimeoutMs'
> {
  /** Replication factor of the stream topics it creates. Default -1: the brokers' `default.replication.factor`. */
  replicationFactor?: number;
  /**
   * Largest entry (payload and headers) an append may carry; a larger one rejects the append with
   * `MESSAGE_TOO_LARGE`. Keep it below the brokers' `message.max.bytes`. Default 1 000 000.
   */
  maxRecordBytes?: number;
  /**
   * `retention.ms` of the stream topics it creates: Kafka deletes older log segments by itself (never the newest,
   * so a stream keeps its epoch). Existing topics keep their own setting. Default 86 400 000 (24 h).
   */
  retentionMs?: number;
}

/** The provider's name and priority: above the runtime's `memory` log (0). */
export const KAFKA_STREAM_LOG_PROVIDER = Object.freeze({ name: 'kafka', priority: 10 });

/**
 * The Kafka log as a provider of kind `stream-log` (name `kafka`, priority 10):
 * `createAtmosphere({ providers: [kafkaBackplane({ brokers }), kafkaStreamLog({ brokers })] })`. Each stream is a
 * single-partition topic `<prefix>log.<name>.<hash>`, so this suits hundreds of long-lived streams (see
 * docs/decisions/0005-kafka-topic-layout.md). Explicit only: the `register` entry never selects it, because a
 * topic per broadcaster is not a default to impose on a cluster.
 *
 * `create()` connects, within `startTimeoutMs`, and rejects with `PROVIDER_FAILED` naming the brokers when it
 * cannot.
 */
export function kafkaStreamLog(options: KafkaStreamLogOptions = {}): Provider<'stream-log'> {
  return {
    kind: 'stream-log',
    name: KAFKA_STREAM_LOG_PROVIDER.name,
    priority: KAFKA_STREAM_LOG_PROVIDER.priority,
    isAvailable: (): Availability => true,
    async create(context): Promise<KafkaStreamLog> {
      const settings = resolveKafkaSettings(options, context, 'log', 'kafkaStreamLog', 'stream-log');
      const maxRecordBytes = options.maxRecordBytes ?? 1_000_000;
      const replicationFactor = options.replicationFactor ?? -1;
      const retentionMs = options.retentionMs ?? 86_400_000;
      if (!Number.isInteger(retentionMs) || (retentionMs <= 0 && retentionMs !== -1))
        throw new AtmosphereError(
          'INVALID_OPTION',
          `kafkaStreamLog({ retentionMs }) must be a positive integer, or -1 to keep everything; got ${retentionMs}.`,
        );
      if (!Number.isInteger(maxRecordBytes) || maxRecordBytes <= 0)
        throw new AtmosphereError(
          'INVALID_OPTION',
          `kafkaStreamLog({ maxRecordBytes }) must be a positive integer; got ${maxRecordBytes}.`,
        );
      if (!Number.isInteger(replicationFactor) || replicationFactor === 0 || replicationFactor < -1)
        throw new AtmosphereError(
          'INVALID_OPTION',
          `kafkaStreamLog({ replicationFactor }) must be -1 or a positive integer; got ${replicationFactor}.`,
        );
      const { kafka, lastClientError } =
        options.kafka !== undefined
          ? { kafka: options.kafka, lastClientError: () => undefined }
          : await makeKafka(settings, context.logger);
      const location =
        options.kafka !== undefined ? 'the brokers of the given Kafka instance' : settings.brokers.join(',');
      let timer: NodeJS.Timeout | undefined;
      const opening = KafkaStreamLog.open({
        kafka,
        topicPrefix: settings.topicPrefix,
        replicationFactor,
        maxRecordBytes,
        retentionMs,
        logger: context.logger,
      });
      try {
        return await Promise.race([
          opening,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () =>
                reject(
                  new Error(
                    `no answer within ${settings.startTimeoutMs} ms${lastClientError() ? ` (last error: ${lastClientError()})` : ''}`,
                  ),
                ),
              settings.startTimeoutMs,
            );
          }),
        ]);
      } catch (error) {
        void opening.then(
          (log) => log.close(),
          () => undefined,
        );
        throw new AtmosphereError(
          'PROVIDER_FAILED',
          `The Kafka stream log could not connect to ${location}: ${(error as Error).message}. Start Kafka there, or point ${settings.brokersSource} at running brokers.`,
          { cause: error },
        );
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
