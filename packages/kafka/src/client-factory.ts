import type { Logger } from '@atmosphere/runtime/spi';
import { type KafkaLike, loadKafkajs } from './kafka-client.ts';
import type { ResolvedKafkaSettings } from './settings.ts';

/**
 * kafkajs' own log lines go to the runtime's logger at debug (the backplane and the log report what matters
 * themselves); the last error is kept, because while kafkajs retries no promise says what went wrong.
 */
function logCreator(logger: Logger, errorLevel: number, lastError: { message?: string }) {
  return () =>
    ({ namespace, level, log }: { namespace: string; level: number; log: { message: string } }): void => {
      if (level === errorLevel) lastError.message = log.message;
      logger.debug(`kafkajs ${namespace}: ${log.message}`);
    };
}

/** Makes a kafkajs client from resolved settings (loading kafkajs), with short retries and logging bridged. */
export async function makeKafka(
  settings: ResolvedKafkaSettings,
  logger: Logger,
): Promise<{ kafka: KafkaLike; lastClientError: () => string | undefined }> {
  const { Kafka, logLevel } = await loadKafkajs();
  const lastError: { message?: string } = {};
  const kafka = new Kafka({
    brokers: [...settings.brokers],
    clientId: settings.clientId,
    ...(settings.ssl !== undefined ? { ssl: settings.ssl } : {}),
    ...(settings.sasl !== undefined ? { sasl: settings.sasl } : {}),
    connectionTimeout: 3_000,
    // Short retries: a broadcast that cannot be relayed is reported within seconds, not after half a minute.
    retry: { retries: 3, initialRetryTime: 100, maxRetryTime: 1_000 },
    logLevel: logLevel.WARN,
    logCreator: logCreator(logger, logLevel.ERROR, lastError),
  });
  return { kafka, lastClientError: () => lastError.message };
}
