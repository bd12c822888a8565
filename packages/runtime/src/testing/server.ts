import type { Atmosphere } from '../atmosphere.ts';
import { createAtmosphere } from '../create.ts';
import type { AtmosphereOptions } from '../options.ts';
import { type Logger, silentLogger } from '../logger.ts';

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
