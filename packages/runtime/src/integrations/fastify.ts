/**
 * Fastify (5) plugin: `await fastify.register(atmosphere, options)` attaches Atmosphere to `fastify.server`
 * (its paths and their WebSocket upgrades are served before Fastify's router; every other request is
 * Fastify's), decorates the instance with `fastify.atmosphere`, logs through `fastify.log` unless a `logger`
 * is given, and closes Atmosphere in `preClose` — before Fastify waits for in-flight requests, so open
 * streams and WebSockets end (1001, `onDisconnect` run) instead of holding `fastify.close()` open.
 *
 * ```ts
 * import Fastify from 'fastify';
 * import { atmosphere } from '@atmosphere/runtime/fastify';
 * const fastify = Fastify();
 * await fastify.register(atmosphere, { origins: ['https://app.example.com'] });
 * fastify.atmosphere.managed('/chat/{room}', { onMessage: (message) => message });
 * await fastify.listen({ port: 3000 });
 * ```
 *
 * `fastify` is an optional peer dependency of `@atmosphere/runtime`, needed for this entry only.
 */
import type { FastifyBaseLogger, FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { Atmosphere } from '../atmosphere.ts';
import { createAtmosphere } from '../create.ts';
import type { AtmosphereOptions } from '../options.ts';
import type { Logger } from '../spi/logger.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The Atmosphere attached to this instance's server by `@atmosphere/runtime/fastify`. */
    atmosphere: Atmosphere;
  }
}

/** Options of the plugin: Atmosphere's, except where it serves (Fastify's server) and Fastify's own. */
export interface AtmosphereFastifyOptions extends Omit<
  AtmosphereOptions,
  'server' | 'port' | 'host' | 'reusePort'
> {
  /** Called with the started Atmosphere before the plugin resolves: register paths here, or later on `fastify.atmosphere`. */
  setup?: (atmosphere: Atmosphere) => void | Promise<void>;
}

/** Fastify's pino logger as Atmosphere's: fields first, as pino takes them. */
function fastifyLogger(log: FastifyBaseLogger): Logger {
  const level =
    (name: 'debug' | 'info' | 'warn' | 'error') =>
    (message: string, fields?: Record<string, unknown>): void => {
      if (fields) log[name](fields, message);
      else log[name](message);
    };
  return { debug: level('debug'), info: level('info'), warn: level('warn'), error: level('error') };
}

const plugin: FastifyPluginAsync<AtmosphereFastifyOptions> = async (
  fastify: FastifyInstance,
  options: AtmosphereFastifyOptions,
) => {
  // Fastify's registration options (prefix, logLevel…) are not Atmosphere's; Atmosphere paths are absolute.
  const {
    setup,
    prefix: _prefix,
    logLevel: _logLevel,
    logSerializers: _logSerializers,
    ...rest
  } = options as AtmosphereFastifyOptions & Record<string, unknown>;
  const attached = await createAtmosphere({
    logger: fastifyLogger(fastify.log),
    ...(rest as AtmosphereFastifyOptions),
    server: fastify.server,
  });
  fastify.decorate('atmosphere', attached);
  fastify.addHook('preClose', async () => {
    await attached.close();
  });
  try {
    await setup?.(attached);
  } catch (error) {
    await attached.close({ timeoutMs: 0 });
    throw error;
  }
};

// What `fastify-plugin` does: no encapsulation (the decorator is visible to the whole application), a name
// for Fastify's errors and its plugin tree.
Object.assign(plugin, {
  [Symbol.for('skip-override')]: true,
  [Symbol.for('fastify.display-name')]: '@atmosphere/runtime/fastify',
  [Symbol.for('plugin-meta')]: { name: '@atmosphere/runtime/fastify', fastify: '5.x' },
});

/** The Fastify plugin: `fastify.register(atmosphere, options)`. */
export const atmosphere = plugin;
export default plugin;
