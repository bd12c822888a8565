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
