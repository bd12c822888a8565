import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'sample-ai-chat',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    // The sample is durable on SQLite by default (under its folder); the tests keep their file out of the tree.
    env: {
      ATMOSPHERE_DURABLE_SQLITE: join(tmpdir(), `atmosphere-sample-ai-chat-${process.pid}`, 'durable.sqlite'),
    },
  },
});
