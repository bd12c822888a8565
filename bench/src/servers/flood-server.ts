/**
 * The server of the flood scenario, in a process of its own (its RSS is what is measured): Atmosphere with
 * its defaults and an echo path, or (argument `ws`) the raw `ws` peer, a bare WebSocket echo server on
 * node:http with the same message limit. Parent messages: `{ type: 'stats', gc? }` → its memory (after a gc
 * when asked), V8's heap space by space, and its resources.
 */
import { createServer } from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { createAtmosphere } from '@atmosphere/runtime';
import { WebSocketServer } from 'ws';
import { benchLogger } from './atmosphere.ts';

interface FloodServer {
  port: number;
  resources(): { connected: number; away: number };
  warnings(): number;
  close(): Promise<void>;
}

async function startAtmosphere(): Promise<FloodServer> {
  const logger = benchLogger('flood-server');
  const atmosphere = await createAtmosphere({
    port: 0,
    host: '127.0.0.1',
    logger,
    autoload: false,
    heartbeat: false,
    shutdownTimeoutMs: 2_000,
  });
  atmosphere.managed(
    '/echo',
    {
      onMessage(message: string, resource) {
        resource.write(message);
      },
    },
    { codec: 'text', subscribe: false },
  );
  return {
    port: atmosphere.address()!.port,
    resources: () => atmosphere.describe().resources,
    warnings: () => logger.warnings,
    close: () => atmosphere.close(),
  };
}

async function startRawWs(): Promise<FloodServer> {
  const server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1024 * 1024 });
  let connected = 0;
  wss.on('connection', (ws) => {
    connected++;
    ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    ws.on('close', () => connected--);
    ws.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    resources: () => ({ connected, away: 0 }),
    warnings: () => 0,
    close: async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const target = process.argv[2] === 'ws' ? await startRawWs() : await startAtmosphere();

process.on('message', (message: { type: string; gc?: boolean }) => {
  if (message.type === 'stats') {
    if (message.gc) globalThis.gc?.();
    const memory = process.memoryUsage();
    process.send!({
      type: 'stats',
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      resources: target.resources(),
      warnings: target.warnings(),
      // Where V8's reserved heap is, space by space (MiB): what a flood grows.
      spaces: Object.fromEntries(
        getHeapSpaceStatistics().map((space) => [
          space.space_name,
          Math.round((space.space_size / 2 ** 20) * 10) / 10,
        ]),
      ),
    });
  } else if (message.type === 'close') {
    void target.close().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port: target.port });
