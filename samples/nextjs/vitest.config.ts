import { defineProject } from 'vitest/config';

export default defineProject({
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'sample-nextjs',
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    // One `next build` (in the first file's beforeAll, skipped when `.next/` is up to date), shared by the files:
    // run them one after the other.
    fileParallelism: false,
    hookTimeout: 300_000,
  },
});
