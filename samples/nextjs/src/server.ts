import { fileURLToPath } from 'node:url';
import type { AgentRuntime, AiEndpointHandle } from '@atmosphere/ai';
import type { Atmosphere, Logger } from '@atmosphere/runtime';
import { listen } from '@atmosphere/runtime/next';
import nextModule from 'next';
import { ensureBuilt, ROOT } from './build.ts';
import { setupAi, WEBSOCKET_PATH } from './setup.ts';

// `next` is CommonJS whose types declare an ES default export: from ESM its default import is the function itself.
const next = nextModule as unknown as typeof nextModule.default;

/** Options of {@link startSample}. */
export interface SampleOptions {
  /** Default 3000; 0 picks a free port. */
  readonly port?: number;
  /** Next's dev server (hot reload) instead of the build in `.next/` (`next build` first). */
  readonly dev?: boolean;
  readonly logger?: Logger;
  /** A runtime instead of the demo model (tests pass a faster one). */
  readonly runtime?: AgentRuntime;
}

/** A running sample. */
export interface Sample {
  readonly atmosphere: Atmosphere;
  readonly endpoint: AiEndpointHandle;
  /** The page's URL. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The custom server: Next and Atmosphere on one `node:http` server (`listen` of `@atmosphere/runtime/next`).
 * Atmosphere serves {@link WEBSOCKET_PATH} over every transport, WebSocket included; Next serves the page and
 * the route handler `app/api/ai/route.ts`, whose SSE and long-polling need no custom server.
 */
export async function startSample(options: SampleOptions = {}): Promise<Sample> {
  const app = next({ dev: options.dev ?? false, dir: ROOT, hostname: '127.0.0.1', quiet: true });
  const running = await listen(app, {
    port: options.port ?? 3000,
    autoload: false,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const endpoint = setupAi(running.atmosphere, WEBSOCKET_PATH, options.runtime);
  return {
    atmosphere: running.atmosphere,
    endpoint,
    url: running.url('/'),
    async close() {
      await endpoint.close();
      await running.close();
      await (app as { close?: () => Promise<void> }).close?.();
    },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dev = process.argv.includes('--dev');
  if (!dev) console.log(`next build: ${await ensureBuilt()}`);
  const sample = await startSample({ port: Number(process.env['PORT'] ?? 3000), dev });
  console.log(`Next.js sample${dev ? ' (dev)' : ''} on ${sample.url} — the demo model answers`);
  const stop = (): void => void sample.close().then(() => process.exit(0));
  process.once('SIGINT', stop).once('SIGTERM', stop);
}
