/**
 * Side-effect entry (`@atmosphere/kafka/register`), loaded by the runtime's autoload when the application
 * depends on `@atmosphere/kafka`: registers the Kafka backplane, available only when `ATMOSPHERE_KAFKA_BROKERS`
 * or `KAFKA_BROKERS` is set. Without either the provider reports itself unavailable and names them, so the
 * startup line tells why the `local` backplane won.
 */
import { registerProvider } from '@atmosphere/runtime/spi';
import { kafkaBackplaneFromEnvironment } from './provider.ts';

registerProvider(kafkaBackplaneFromEnvironment());
