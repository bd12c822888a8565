import { defineProject } from 'vitest/config';
import { standardDecorators } from '../../vitest.decorators.ts';

export default defineProject({
  plugins: [standardDecorators()],
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'ai',
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 20_000,
  },
});
