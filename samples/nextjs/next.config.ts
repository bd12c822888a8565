import type { NextConfig } from 'next';

// In this workspace the @atmosphere packages are TypeScript sources (the `@atmosphere/source` condition, which
// the custom server runs Node with). An application installing them from npm needs none of this.
const source = (path: string): string => `../../packages/${path}`;

const config: NextConfig = {
  turbopack: {
    resolveAlias: {
      '@atmosphere/ai': source('ai/src/index.ts'),
      '@atmosphere/client/react': source('client/src/react/index.ts'),
      '@atmosphere/protocol': source('protocol/src/index.ts'),
      '@atmosphere/runtime': source('runtime/src/index.ts'),
      '@atmosphere/runtime/next': source('runtime/src/integrations/next.ts'),
      '@atmosphere/runtime/spi': source('runtime/src/spi/index.ts'),
    },
  },
  // The workspace's typecheck covers the sample (`tsc -p samples/nextjs`); the build does not repeat it.
  typescript: { ignoreBuildErrors: true },
  // SSE from the route handler: never buffered by a compression stream.
  compress: false,
};

export default config;
