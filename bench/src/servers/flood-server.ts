/**
 * The server of the flood scenario, in a process of its own (its RSS is what is measured): Atmosphere with
 * its defaults and an echo path. Parent messages: `{ type: 'stats' }` → its RSS (after a gc) and resources.
 */
import { createAtmosphere } from '@atmosphere/runtime';
import { benchLogger } from './atmosphere.ts';

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

process.on('message', (message: { type: string }) => {
  if (message.type === 'stats') {
    if (message && (message as { gc?: boolean }).gc) globalThis.gc?.();
    const { resources } = atmosphere.describe();
    const memory = process.memoryUsage();
    process.send!({
      type: 'stats',
      rss: memory.rss,
      heapUsed: memory.heapUsed,
      heapTotal: memory.heapTotal,
      external: memory.external,
      resources,
      warnings: logger.warnings,
    });
  } else if (message.type === 'close') {
    void atmosphere.close().then(() => process.exit(0));
  }
});
process.send!({ type: 'ready', port: atmosphere.address()!.port });
