import { describe, expect, test } from 'vitest';
import { parseBrokers, resolveKafkaSettings } from './settings.ts';

const at = (env: Record<string, string> = {}, settings: Record<string, unknown> = {}) => ({ env, settings });

describe('resolveKafkaSettings()', () => {
  test('brokers: the option, then the setting, then ATMOSPHERE_KAFKA_BROKERS, then KAFKA_BROKERS, then localhost:9092', () => {
    const env = { ATMOSPHERE_KAFKA_BROKERS: 'a:1', KAFKA_BROKERS: 'k:2' };
    expect(
      resolveKafkaSettings({ brokers: ['o:1', 'o:2'] }, at(env, { brokers: 's:1' }), 'n').brokers,
    ).toEqual(['o:1', 'o:2']);
    expect(resolveKafkaSettings({}, at(env, { brokers: 's:1, s:2' }), 'n').brokers).toEqual(['s:1', 's:2']);
    expect(resolveKafkaSettings({}, at(env), 'n')).toMatchObject({
      brokers: ['a:1'],
      brokersSource: 'ATMOSPHERE_KAFKA_BROKERS',
    });
    expect(resolveKafkaSettings({}, at({ KAFKA_BROKERS: 'k:2,k:3' }), 'n')).toMatchObject({
      brokers: ['k:2', 'k:3'],
      brokersSource: 'KAFKA_BROKERS',
    });
    expect(resolveKafkaSettings({}, at(), 'n')).toMatchObject({
      brokers: ['localhost:9092'],
      brokersSource: 'the default',
    });
  });

  test('defaults: prefix atmosphere., topic atmosphere.backplane, a group per node, client id atmosphere', () => {
    expect(resolveKafkaSettings({}, at(), 'abc')).toMatchObject({
      topicPrefix: 'atmosphere.',
      topic: 'atmosphere.backplane',
      groupId: 'atmosphere.node.abc',
      clientId: 'atmosphere',
      partitions: 8,
      maxMessageBytes: 1_000_000,
      ssl: undefined,
      sasl: undefined,
    });
  });

  test('the environment gives prefix, client id, group, TLS and SASL; options win', () => {
    const env = {
      ATMOSPHERE_KAFKA_TOPIC_PREFIX: 'env.',
      ATMOSPHERE_KAFKA_CLIENT_ID: 'edge',
      ATMOSPHERE_KAFKA_GROUP_ID: 'edge-1',
      ATMOSPHERE_KAFKA_SSL: 'true',
      ATMOSPHERE_KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      ATMOSPHERE_KAFKA_SASL_USERNAME: 'user',
      ATMOSPHERE_KAFKA_SASL_PASSWORD: 'secret',
    };
    expect(resolveKafkaSettings({}, at(env), 'n')).toMatchObject({
      topic: 'env.backplane',
      clientId: 'edge',
      groupId: 'edge-1',
      ssl: true,
      sasl: { mechanism: 'scram-sha-512', username: 'user', password: 'secret' },
    });
    const sasl = { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: 't' }) };
    expect(
      resolveKafkaSettings({ topicPrefix: 'o.', ssl: { rejectUnauthorized: false }, sasl }, at(env), 'n'),
    ).toMatchObject({
      topic: 'o.backplane',
      ssl: { rejectUnauthorized: false },
      sasl,
    });
  });

  test('mistakes name the option or variable to fix', () => {
    expect(() => resolveKafkaSettings({}, at({ ATMOSPHERE_KAFKA_SASL_MECHANISM: 'gssapi' }), 'n')).toThrow(
      'ATMOSPHERE_KAFKA_SASL_MECHANISM must be plain, scram-sha-256 or scram-sha-512; got "gssapi"',
    );
    expect(() => resolveKafkaSettings({}, at({ ATMOSPHERE_KAFKA_SASL_MECHANISM: 'plain' }), 'n')).toThrow(
      'ATMOSPHERE_KAFKA_SASL_USERNAME and ATMOSPHERE_KAFKA_SASL_PASSWORD must be set too',
    );
    expect(() => resolveKafkaSettings({ partitions: 1.5 }, at(), 'n')).toThrow(
      'kafkaBackplane({ partitions }) must be an integer',
    );
    expect(() => resolveKafkaSettings({ startTimeoutMs: -1 }, at(), 'n')).toThrow(
      'kafkaBackplane({ startTimeoutMs }) must be a positive number',
    );
  });
});

describe('parseBrokers()', () => {
  test('host:port entries, IPv6 in brackets; schemes, credentials and bad ports are refused', () => {
    expect(parseBrokers(' a:1 ,b.example:9092,[::1]:9093,', 'X')).toEqual([
      'a:1',
      'b.example:9092',
      '[::1]:9093',
    ]);
    for (const bad of ['a', 'a:0', 'a:70000', 'PLAINTEXT://a:9092', 'user:pw@a:9092', ':9092'])
      expect(() => parseBrokers(bad, 'X')).toThrow(`X has ${JSON.stringify(bad)}, not host:port`);
    expect(() => parseBrokers(' , ', 'X')).toThrow('X names no broker');
  });
});

describe('kafkajs is an optional peer', () => {
  test('no module of the package imports kafkajs statically: only a client made from brokers loads it, on demand', async () => {
    const { readdir, readFile } = await import('node:fs/promises');
    const dir = new URL('./', import.meta.url);
    const sources = (await readdir(dir)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
    const staticImports: string[] = [];
    for (const file of sources) {
      const text = await readFile(new URL(file, dir), 'utf8');
      if (/^import (?!type )[^;]*from 'kafkajs'/m.test(text)) staticImports.push(file);
    }
    expect(sources.length).toBeGreaterThan(5);
    expect(staticImports).toEqual([]);
  });
});
