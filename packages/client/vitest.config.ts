// A plain object rather than `defineProject(...)`: importing vitest's types here would pull Node's types
// into the client's own tsconfig, which must compile without them.
export default {
  resolve: { conditions: ['@atmosphere/source'] },
  ssr: { resolve: { conditions: ['@atmosphere/source'] } },
  test: {
    name: 'client',
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
  },
};
