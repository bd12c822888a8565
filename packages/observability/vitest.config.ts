import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'observability',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
