import { AtmosphereError } from '@atmosphere/runtime';
import type { ProviderContext } from '@atmosphere/runtime/spi';
import {
  KAFKA_BACKPLANE_DEFAULTS,
  KAFKA_ENV,
  type KafkaSaslOptions,
  type KafkaSslOptions,
} from './config.ts';
import type { KafkaLike } from './kafka-client.ts';

/** Options of {@link kafkaBackplane}. Each has a default; see each. */
export interface KafkaBackplaneOptions {
  /**
   * The brokers to bootstrap from: `host:port`, a comma-separated list or an array. Default: the `brokers`
   * setting (`createAtmosphere({ settings: { 'broadcaster-backplane': { brokers } } })`), then
   * `ATMOSPHERE_KAFKA_BROKERS`, then `KAFKA_BROKERS`, then `localhost:9092`.
   */
  brokers?: string | readonly string[];
  /**
   * An application's own kafkajs `Kafka` instance (brokers, TLS, SASL, logging as it set them), instead of
   * `brokers`/`clientId`/`ssl`/`sasl`. kafkajs then need not be resolvable from this package. The backplane
   * makes its producer, consumer and admin client from it and closes only those.
   */
  kafka?: KafkaLike;
  /**
   * Prefix of every topic this package uses; the relay topic is `<prefix>backplane`. Applications sharing one
   * cluster use different prefixes. Default: the `topicPrefix` setting, then `ATMOSPHERE_KAFKA_TOPIC_PREFIX`,
   * then `atmosphere.`.
   */
  topicPrefix?: string;
  /** kafkajs `clientId` (shows in broker logs and quotas). Default: setting, `ATMOSPHERE_KAFKA_CLIENT_ID`, `atmosphere`. */
  clientId?: string;
  /**
   * This node's consumer group. Every node must have its own, so that each reads every broadcast; the default
   * is generated per node (`<prefix>node.<node id>`). Set it only to match ACLs, with a value unique per node
   * (a shared group fails `start()`). Default: setting, `ATMOSPHERE_KAFKA_GROUP_ID`, generated.
   */
  groupId?: string;
  /** TLS, passed to kafkajs as it is. Default: `ATMOSPHERE_KAFKA_SSL=true` turns it on, else off. */
  ssl?: KafkaSslOptions;
  /**
   * SASL, passed to kafkajs as it is. Default: from `ATMOSPHERE_KAFKA_SASL_MECHANISM`, `_USERNAME` and
   * `_PASSWORD` when the mechanism is set (`plain`, `scram-sha-256`, `scram-sha-512`).
   */
  sasl?: KafkaSaslOptions;
  /** Partitions of the relay topic when this node creates it (an existing topic keeps its own). Default 8. */
  partitions?: number;
  /**
   * Largest relayed record in bytes (key, value and headers), sent or accepted; keep it below the brokers'
   * `message.max.bytes`. A larger broadcast is delivered on its own node only; a larger record from the topic
   * is dropped. Both log a warning. Default 1 000 000.
   */
  maxMessageBytes?: number;
  /**
   * Bytes handed to the producer and not yet acknowledged beyond which new broadcasts are not relayed (with a
   * warning), so that a Kafka that stops answering cannot make this node's memory grow. Default 32 MiB.
   */
  maxPendingBytes?: number;
  /** How long `start()` (inside `createAtmosphere()`) waits for Kafka before failing. Default 15 000 ms. */
  startTimeoutMs?: number;
}

/** The settings of a backplane once options, settings, environment and defaults are merged and checked. */
export interface ResolvedKafkaSettings {
  readonly brokers: readonly string[];
  /** Where the brokers came from (an option, a setting, an env var or the default), for messages. */
  readonly brokersSource: string;
  readonly topicPrefix: string;
  readonly topic: string;
  readonly clientId: string;
  readonly groupId: string;
  readonly ssl: KafkaSslOptions | undefined;
  readonly sasl: KafkaSaslOptions | undefined;
  readonly partitions: number;
  readonly maxMessageBytes: number;
  readonly maxPendingBytes: number;
  readonly startTimeoutMs: number;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

function invalid(problem: string): AtmosphereError {
  return new AtmosphereError('INVALID_OPTION', problem);
}

/** Where the brokers come from, and their text (an array is joined). */
export function brokersFrom(
  options: KafkaBackplaneOptions,
  context: Pick<ProviderContext, 'env' | 'settings'>,
  factory = 'kafkaBackplane',
  kind = 'broadcaster-backplane',
): { brokers: string; source: string } {
  if (options.brokers !== undefined)
    return {
      brokers: typeof options.brokers === 'string' ? options.brokers : options.brokers.join(','),
      source: `${factory}({ brokers })`,
    };
  const setting = context.settings['brokers'];
  if (Array.isArray(setting)) return { brokers: setting.join(','), source: `settings['${kind}'].brokers` };
  const fromSettings = text(setting);
  if (fromSettings !== undefined) return { brokers: fromSettings, source: `settings['${kind}'].brokers` };
  const fromEnv = text(context.env[KAFKA_ENV.brokers]);
  if (fromEnv !== undefined) return { brokers: fromEnv, source: KAFKA_ENV.brokers };
  const fromFallback = text(context.env[KAFKA_ENV.brokersFallback]);
  if (fromFallback !== undefined) return { brokers: fromFallback, source: KAFKA_ENV.brokersFallback };
  return { brokers: KAFKA_BACKPLANE_DEFAULTS.brokers, source: 'the default' };
}

/** Splits and checks a broker list: `host:port` entries, comma-separated. Throws `INVALID_OPTION` naming the source. */
export function parseBrokers(list: string, source: string): string[] {
  const brokers = list
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (brokers.length === 0) throw invalid(`${source} names no broker; expected host:port[,host:port…].`);
  for (const broker of brokers) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[^\s:/[\]@]+):(\d{1,5})$/.exec(broker);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65_535)
      throw invalid(
        `${source} has ${JSON.stringify(broker.slice(0, 80))}, not host:port; expected host:port[,host:port…] (no scheme, no credentials).`,
      );
  }
  return brokers;
}

function positive(factory: string, option: string, value: number | undefined, fallback: number): number {
  const resolved = value ?? fallback;
  if (!Number.isFinite(resolved) || resolved <= 0)
    throw invalid(`${factory}({ ${option} }) must be a positive number; got ${resolved}.`);
  return resolved;
}

function saslFromEnvironment(env: ProviderContext['env'], factory: string): KafkaSaslOptions | undefined {
  const mechanism = text(env[KAFKA_ENV.saslMechanism])?.toLowerCase();
  if (mechanism === undefined) return undefined;
  if (mechanism !== 'plain' && mechanism !== 'scram-sha-256' && mechanism !== 'scram-sha-512')
    throw invalid(
      `${KAFKA_ENV.saslMechanism} must be plain, scram-sha-256 or scram-sha-512; got ${JSON.stringify(mechanism)}. For another mechanism pass ${factory}({ sasl }).`,
    );
  const username = env[KAFKA_ENV.saslUsername];
  const password = env[KAFKA_ENV.saslPassword];
  if (!username || !password)
    throw invalid(
      `${KAFKA_ENV.saslMechanism} is set; ${KAFKA_ENV.saslUsername} and ${KAFKA_ENV.saslPassword} must be set too.`,
    );
  return { mechanism, username, password };
}

/**
 * Merges options, the kind's settings, the environment and the defaults, and checks them. Throws
 * `INVALID_OPTION` with the option or variable to fix.
 */
export function resolveKafkaSettings(
  options: KafkaBackplaneOptions,
  context: Pick<ProviderContext, 'env' | 'settings'>,
  nodeId: string,
  factory = 'kafkaBackplane',
  kind = 'broadcaster-backplane',
): ResolvedKafkaSettings {
  const { env, settings } = context;
  if (
    options.kafka !== undefined &&
    (options.brokers !== undefined ||
      options.ssl !== undefined ||
      options.sasl !== undefined ||
      options.clientId !== undefined)
  )
    throw invalid(
      `${factory}() takes a kafka instance or brokers/clientId/ssl/sasl to make one, not both; drop one of them.`,
    );
  const { brokers, source } = brokersFrom(options, context, factory, kind);
  const topicPrefix =
    options.topicPrefix ??
    text(settings['topicPrefix']) ??
    text(env[KAFKA_ENV.topicPrefix]) ??
    KAFKA_BACKPLANE_DEFAULTS.topicPrefix;
  const topic = `${topicPrefix}backplane`;
  if (!/^[a-zA-Z0-9._-]{1,249}$/.test(topic))
    throw invalid(
      `The topic prefix ${JSON.stringify(topicPrefix.slice(0, 80))} makes an invalid Kafka topic name; use letters, digits, '.', '_' and '-' (at most 240 characters).`,
    );
  const partitions = positive(factory, 'partitions', options.partitions, KAFKA_BACKPLANE_DEFAULTS.partitions);
  if (!Number.isInteger(partitions))
    throw invalid(`${factory}({ partitions }) must be an integer; got ${partitions}.`);
  const sslFromEnv = text(env[KAFKA_ENV.ssl])?.toLowerCase();
  return {
    brokers: options.kafka !== undefined ? [] : parseBrokers(brokers, source),
    brokersSource: options.kafka !== undefined ? `${factory}({ kafka })` : source,
    topicPrefix,
    topic,
    clientId:
      options.clientId ??
      text(settings['clientId']) ??
      text(env[KAFKA_ENV.clientId]) ??
      KAFKA_BACKPLANE_DEFAULTS.clientId,
    groupId:
      options.groupId ??
      text(settings['groupId']) ??
      text(env[KAFKA_ENV.groupId]) ??
      `${topicPrefix}node.${nodeId}`,
    ssl: options.ssl ?? (sslFromEnv === 'true' || sslFromEnv === '1' ? true : undefined),
    sasl: options.sasl ?? saslFromEnvironment(env, factory),
    partitions,
    maxMessageBytes: positive(
      factory,
      'maxMessageBytes',
      options.maxMessageBytes,
      KAFKA_BACKPLANE_DEFAULTS.maxMessageBytes,
    ),
    maxPendingBytes: positive(
      factory,
      'maxPendingBytes',
      options.maxPendingBytes,
      KAFKA_BACKPLANE_DEFAULTS.maxPendingBytes,
    ),
    startTimeoutMs: positive(
      factory,
      'startTimeoutMs',
      options.startTimeoutMs,
      KAFKA_BACKPLANE_DEFAULTS.startTimeoutMs,
    ),
  };
}
