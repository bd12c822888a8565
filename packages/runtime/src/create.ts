import { createServer } from 'node:http';
import type { Duplex } from 'node:stream';
import { Atmosphere } from './atmosphere.ts';
import { LocalBackplane } from './broadcast/local-backplane.ts';
import { MemoryStreamLog } from './log/memory-stream-log.ts';
import { MemorySessionStore } from './session/memory-session-store.ts';
import { MemoryClusterState } from './cluster/memory-cluster-state.ts';
import { NO_METRICS } from './spi/metrics.ts';
import { NO_TRACING } from './spi/tracing.ts';
import { AtmosphereError } from './errors.ts';
import { consoleLogger } from './logger.ts';
import type { AtmosphereOptions } from './options.ts';
import { applicationRoot, autoloadRegisterEntries } from './registry/autoload.ts';
import { describeSelection, registry, selectProvider } from './registry/registry.ts';
import type { BroadcasterBackplane } from './spi/backplane.ts';
import type { KindSelection, Provider, ProviderContext, ProviderKind } from './spi/provider.ts';
import type { Logger } from './spi/logger.ts';
import { VERSION } from './version.ts';

/**
 * Starts Atmosphere: loads providers (explicit ones, then the `register` entries of installed
 * `@atmosphere/*` packages), selects one per kind (logging who won and why), and attaches to `server` or
 * listens on `port`/`host`.
 */
export async function createAtmosphere(options: AtmosphereOptions = {}): Promise<Atmosphere> {
  if (options.server === undefined && options.port === undefined) {
    // Never a port nobody asked for: an application that serves its own routes would get a second listener
    // and no WebSocket on its own port.
    throw new AtmosphereError(
      'INVALID_OPTION',
      "createAtmosphere() needs to know where to serve. Attach to the application's server — createAtmosphere({ server }) with the node:http/https/http2 server of Express, Fastify, Hono or your own, so its requests and WebSocket upgrades reach Atmosphere (see @atmosphere/runtime/express, /fastify, /hono) — or listen on a port of its own: createAtmosphere({ port: 8080 }).",
    );
  }
  const logger = options.logger ?? consoleLogger();
  let autoloaded: string[] = [];
  if (options.autoload !== false) {
    const root =
      typeof options.autoload === 'object' && options.autoload.root
        ? options.autoload.root
        : applicationRoot();
    const result = await autoloadRegisterEntries(root, logger);
    autoloaded = result.loaded;
    for (const failure of result.failed)
      logger.warn(`autoload: ${failure.name}/register could not load: ${failure.error}`);
  }
  const env = options.env ?? process.env;
  const explicit = [...(options.providers ?? []), ...builtinProviders(options)];
  const kinds = new Set<string>([
    'broadcaster-backplane',
    'stream-log',
    'session-store',
    'cluster-state',
    'metrics',
    'tracing',
    ...registry.kinds(),
    ...explicit.map((p) => p.kind),
  ]);
  const selections: KindSelection[] = [];
  const instances = new Map<string, unknown>();
  try {
    for (const kind of kinds) {
      const context: ProviderContext = { env, logger, settings: options.settings?.[kind] ?? {} };
      const { selection, instance } = await selectProvider(
        kind as ProviderKind,
        explicit,
        registry.providers(kind),
        context,
      );
      selections.push(selection);
      if (instance !== undefined) instances.set(kind, instance);
      logger.info(describeSelection(selection));
      const failed = selection.candidates.find((candidate) => candidate.status === 'failed');
      if (failed) {
        // A provider that was configured (passed in, or made available by its settings or environment) and
        // cannot start is an error of the deployment: running on a fallback would lose what it was configured for.
        throw new AtmosphereError(
          'PROVIDER_FAILED',
          `${kind}: provider ${failed.name} is configured but failed to start — ${failed.reason.replace(/\.$/, '')}. Fix its configuration, or remove it (its option, its environment variable, or the package) to run without it.`,
        );
      }
    }
  } catch (error) {
    // Release what the kinds before it opened, then report why.
    await closeAll(instances.values(), logger);
    throw error;
  }
  const backplane = instances.get('broadcaster-backplane') as BroadcasterBackplane | undefined;
  if (!backplane || !instances.has('stream-log')) {
    throw new AtmosphereError(
      'PROVIDER_UNAVAILABLE',
      'No broadcaster-backplane or stream-log provider could start; see the log above.',
    );
  }
  let server = options.server;
  const ownsServer = server === undefined;
  server ??= createServer();
  const atmosphere = new Atmosphere(options, server, ownsServer, { selections, instances, autoloaded });
  try {
    await backplane.start(
      (message) => atmosphere.broadcasters.deliverRemote(message),
      atmosphere.backplaneEvents,
    );
    if (ownsServer) {
      const host = options.host ?? '127.0.0.1';
      const port = options.port ?? 0;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen({ port, host, ...(options.reusePort ? { reusePort: true } : {}) }, () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
  } catch (error) {
    // Not started (the backplane failed, or nothing listens): release what did start — timers, providers,
    // the listeners on an application's server — before reporting why.
    await atmosphere.close({ timeoutMs: 0 });
    throw error;
  }
  if (ownsServer) {
    server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
      if (!socket.writable || error.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
    });
  }
  logger.info(
    `Atmosphere ${VERSION} ${ownsServer ? `listening on ${atmosphere.url('/')}` : 'attached to the application server'}; ${atmosphere.describe().origins}`,
  );
  return atmosphere;
}

/** The runtime's own kinds go through the registry like everyone else's, at priority 0. */
function builtinProviders(options: AtmosphereOptions): Provider[] {
  return [
    {
      kind: 'broadcaster-backplane',
      name: 'local',
      priority: 0,
      isAvailable: () => true,
      create: () => new LocalBackplane(),
    },
    {
      kind: 'stream-log',
      name: 'memory',
      priority: 0,
      isAvailable: () => true,
      create: () => new MemoryStreamLog(options.log),
    },
    {
      kind: 'session-store',
      name: 'memory',
      priority: 0,
      isAvailable: () => true,
      create: () => new MemorySessionStore(options.sessions),
    },
    {
      // One node: nothing shared, so rooms behave as on a single server.
      kind: 'cluster-state',
      name: 'memory',
      priority: 0,
      isAvailable: () => true,
      create: async () => {
        const state = new MemoryClusterState();
        await state.start();
        return state;
      },
    },
    {
      // Records nothing: instrumented code checks `enabled` and skips every measurement.
      kind: 'metrics',
      name: 'none',
      priority: 0,
      isAvailable: () => true,
      create: () => NO_METRICS,
    },
    {
      kind: 'tracing',
      name: 'none',
      priority: 0,
      isAvailable: () => true,
      create: () => NO_TRACING,
    },
  ];
}

/** Closes what the selection created before it failed (connections a store or backplane opened). */
async function closeAll(instances: Iterable<unknown>, logger: Logger): Promise<void> {
  for (const instance of instances) {
    const close = (instance as { close?: () => unknown } | null)?.close;
    if (typeof close !== 'function') continue;
    try {
      await close.call(instance);
    } catch (error) {
      logger.warn('a provider failed to close after a failed startup', { error });
    }
  }
}
