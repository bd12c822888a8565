import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'sample-frameworks',
    include: ['src/**/*.test.ts', 'web/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
});
