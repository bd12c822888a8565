import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KAFKA_KIND, startTestKafka, type TestKafka } from './support/broker.ts';

let kafka: TestKafka;

beforeAll(async () => {
  kafka = await startTestKafka();
});

afterAll(async () => {
  await kafka.stop();
});

describe(`the README's two-node example (${KAFKA_KIND})`, () => {
  test('runs as its own process against KAFKA_BROKERS and exits 0', async () => {
    const script = fileURLToPath(new URL('../examples/two-nodes.ts', import.meta.url));
    const child = spawn(process.execPath, ['--conditions=@atmosphere/source', script], {
      env: { ...process.env, KAFKA_BROKERS: kafka.brokers, ATMOSPHERE_KAFKA_BROKERS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(output).toContain('two-node example: ok');
    expect(output).toContain('alice got ["hello from node A","only for alice","for everyone again"]');
    expect(code).toBe(0);
  }, 40_000);
});
