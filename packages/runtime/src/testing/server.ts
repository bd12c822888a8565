import type { Atmosphere } from '../atmosphere.ts';
import type { ClientResource } from '../delivery/resource.ts';
import type { AtmosphereResource } from '../spi/resource.ts';
import { createAtmosphere } from '../create.ts';
import type { AtmosphereOptions } from '../options.ts';
import { silentLogger } from '../logger.ts';
import type { Logger } from '../spi/logger.ts';

/** A logger that keeps every line, for assertions on what was logged. */
export function recordingLogger(): Logger & { lines: { level: string; message: string }[] } {
  const lines: { level: string; message: string }[] = [];
  const record = (level: string) => (message: string) => {
    lines.push({ level, message });
  };
  return {
    lines,
    debug: record('debug'),
    info: record('info'),
    warn: record('warn'),
    error: record('error'),
  };
}

/**
 * Starts Atmosphere on 127.0.0.1, a free port, silent, without autoload — for tests. Close it with
 * `await atmosphere.close()` (or `await using`).
 */
export function startTestAtmosphere(options: AtmosphereOptions = {}): Promise<Atmosphere> {
  return createAtmosphere({
    port: 0,
    host: '127.0.0.1',
    logger: silentLogger,
    autoload: false,
    shutdownTimeoutMs: 2_000,
    ...options,
  });
}

/**
 * Starts Atmosphere (as {@link startTestAtmosphere}) with `env` and, when given, `settings` for one SPI kind, and
 * returns the line its selection of that kind logged (`<kind>: <name> …, because …`): for a provider
 * package's tests of its register entry.
 */
export async function startForSelection(
  kind: string,
  env: Record<string, string>,
  settings?: Record<string, unknown>,
): Promise<{ atmosphere: Atmosphere; logger: ReturnType<typeof recordingLogger>; line: string | undefined }> {
  const logger = recordingLogger();
  const atmosphere = await startTestAtmosphere({
    env,
    logger,
    ...(settings ? { settings: { [kind]: settings } } : {}),
  });
  const line = logger.lines.find((l) => l.level === 'info' && l.message.startsWith(`${kind}:`))?.message;
  return { atmosphere, logger, line };
}

/**
 * Ends a resource's current connection from the server side, as a failing server or proxy would (WebSocket
 * close `code`, an SSE error event, an HTTP stream cut), leaving the resource to wait for its client within the
 * reconnect grace period. Returns false when the resource has no connection. For tests of reconnection.
 */
export function dropConnection(
  resource: AtmosphereResource | undefined,
  code = 1011,
  reason = 'dropped',
): boolean {
  const connection = (resource as ClientResource | undefined)?.connection;
  if (connection === undefined) return false;
  connection.end(code, reason);
  return true;
}
