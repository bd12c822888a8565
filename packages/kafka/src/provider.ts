import type { Availability, Provider, ProviderContext } from '@atmosphere/runtime/spi';
import { KAFKA_ENV } from './config.ts';
import { makeKafka } from './client-factory.ts';
import { KafkaBackplane, type KafkaBackplaneSetup } from './kafka-backplane.ts';
import { brokersFrom, type KafkaBackplaneOptions, resolveKafkaSettings } from './settings.ts';

/** The provider's name and priority: above the runtime's `local` backplane (0), level with `redis`. */
export const KAFKA_BACKPLANE_PROVIDER = Object.freeze({ name: 'kafka', priority: 10 });

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

async function setupFor(
  options: KafkaBackplaneOptions,
  context: ProviderContext,
  nodeId: string,
): Promise<KafkaBackplaneSetup> {
  const settings = resolveKafkaSettings(options, context, nodeId);
  const { kafka, lastClientError } =
    options.kafka !== undefined
      ? { kafka: options.kafka, lastClientError: () => undefined }
      : await makeKafka(settings, context.logger);
  const fix =
    settings.brokersSource === 'kafkaBackplane({ kafka })'
      ? 'give kafkaBackplane({ kafka }) an instance whose brokers are reachable'
      : `point ${settings.brokersSource === 'the default' ? `${KAFKA_ENV.brokers} (or ${KAFKA_ENV.brokersFallback})` : settings.brokersSource} at running brokers`;
  return {
    kafka,
    location:
      options.kafka !== undefined ? 'the brokers of the given Kafka instance' : settings.brokers.join(','),
    topic: settings.topic,
    partitions: settings.partitions,
    groupId: settings.groupId,
    maxMessageBytes: settings.maxMessageBytes,
    maxPendingBytes: settings.maxPendingBytes,
    startTimeoutMs: settings.startTimeoutMs,
    fix,
    lastClientError,
  };
}

/**
 * The Kafka backplane as a provider of kind `broadcaster-backplane` (name `kafka`, priority 10, above the
 * runtime's `local` one): `createAtmosphere({ providers: [kafkaBackplane({ brokers })] })`. Every node of the
 * cluster uses the same brokers and `topicPrefix`.
 *
 * Settings are resolved and checked when the backplane starts, inside `createAtmosphere()`: a mistake (a
 * malformed broker list, kafkajs missing, brokers unreachable within `startTimeoutMs`) rejects
 * `createAtmosphere()` with the reason and the fix. A backplane that was asked for never gives way silently
 * to the single-node one.
 */
export function kafkaBackplane(options: KafkaBackplaneOptions = {}): Provider<'broadcaster-backplane'> {
  return {
    kind: 'broadcaster-backplane',
    name: KAFKA_BACKPLANE_PROVIDER.name,
    priority: KAFKA_BACKPLANE_PROVIDER.priority,
    isAvailable: (): Availability => true,
    create: (context) => new KafkaBackplane((nodeId) => setupFor(options, context, nodeId), context.logger),
  };
}

/**
 * The provider the `register` entry registers: {@link kafkaBackplane} with its defaults, available only when
 * `ATMOSPHERE_KAFKA_BROKERS` or `KAFKA_BROKERS` is set (an installed package alone must not make a single
 * node wait for a Kafka it was never given). The reason says which variable was read, or which to set.
 */
export function kafkaBackplaneFromEnvironment(): Provider<'broadcaster-backplane'> {
  const provider = kafkaBackplane();
  return {
    ...provider,
    isAvailable(context): Availability {
      if (
        text(context.env[KAFKA_ENV.brokers]) === undefined &&
        text(context.env[KAFKA_ENV.brokersFallback]) === undefined
      )
        return {
          available: false,
          reason: `neither ${KAFKA_ENV.brokers} nor ${KAFKA_ENV.brokersFallback} is set; set one (host:9092[,host:9092…]) to relay broadcasts between nodes through Kafka, or pass kafkaBackplane({ brokers }) in createAtmosphere({ providers })`,
        };
      return true;
    },
  };
}

/** Where the register entry's brokers would come from, for the startup line (`ATMOSPHERE_KAFKA_BROKERS` first). */
export function brokersSource(context: Pick<ProviderContext, 'env' | 'settings'>): string {
  return brokersFrom({}, context).source;
}
