import { describe, expect, test } from 'vitest';

/**
 * The public surface of @atmosphere/kafka, pinned: a value export added or removed shows here in review (and
 * needs a changeset). The relay and log record formats are internal.
 */
describe('@atmosphere/kafka public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'KAFKA_BACKPLANE_DEFAULTS',
      'KAFKA_BACKPLANE_PROVIDER',
      'KAFKA_ENV',
      'KAFKA_STREAM_LOG_PROVIDER',
      'KafkaBackplane',
      'KafkaStreamLog',
      'kafkaBackplane',
      'kafkaBackplaneFromEnvironment',
      'kafkaStreamLog',
      'resolveKafkaSettings',
    ]);
  });
});
