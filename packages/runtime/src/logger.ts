import type { Logger, LogLevel } from './spi/logger.ts';

export type { Logger, LogLevel };

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

function isLogLevel(value: string | undefined): value is LogLevel {
  return value !== undefined && value in ORDER;
}

/**
 * A console logger filtered by level. The level comes from the argument, else `ATMOSPHERE_LOG_LEVEL`, else
 * `info`.
 */
export function consoleLogger(level?: LogLevel): Logger {
  const env = process.env['ATMOSPHERE_LOG_LEVEL'];
  const threshold = ORDER[level ?? (isLogLevel(env) ? env : 'info')];
  const emit = (
    lvl: Exclude<LogLevel, 'silent'>,
    message: string,
    fields?: Record<string, unknown>,
  ): void => {
    if (ORDER[lvl] < threshold) return;
    const line = `[atmosphere] ${message}`;
    const sink = lvl === 'error' ? console.error : lvl === 'warn' ? console.warn : console.log;
    if (fields && Object.keys(fields).length > 0) sink(line, fields);
    else sink(line);
  };
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
  };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
