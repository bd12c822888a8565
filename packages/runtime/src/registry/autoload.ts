import { existsSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../spi/logger.ts';

/**
 * Where the application's `package.json` is, for autoload: the nearest one above the entry script the
 * process was started with (`process.argv[1]`), so that `node /srv/app/server.js` from any directory finds
 * `/srv/app`. When the entry script is a tool inside `node_modules` (a test runner, a TypeScript loader) or
 * there is none (a REPL), the current directory. `autoload: { root }` overrides both.
 */
export function applicationRoot(
  entry: string | undefined = process.argv[1],
  cwd: string = process.cwd(),
): string {
  if (entry === undefined || entry === '') return cwd;
  let directory: string;
  try {
    directory = dirname(realpathSync(entry));
  } catch {
    return cwd;
  }
  for (;;) {
    if (existsSync(join(directory, 'package.json'))) {
      return directory.split(sep).includes('node_modules') ? cwd : directory;
    }
    const parent = dirname(directory);
    if (parent === directory) return cwd;
    directory = parent;
  }
}

export interface AutoloadResult {
  /** Packages whose `register` entry was loaded. */
  loaded: string[];
  /** Packages without one (nothing to register). */
  skipped: string[];
  /** Packages whose entry failed to load, with why. */
  failed: { name: string; error: string }[];
}

/**
 * Loads `@atmosphere/<pkg>/register` for every `@atmosphere/*` package the application depends on (its
 * `package.json` in `root`), so installing a package is enough for its providers to be considered.
 */
export async function autoloadRegisterEntries(root: string, logger: Logger): Promise<AutoloadResult> {
  const result: AutoloadResult = { loaded: [], skipped: [], failed: [] };
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as Record<string, unknown>;
  } catch {
    logger.debug(`autoload: no package.json in ${root}; nothing to load`);
    return result;
  }
  const names = new Set<string>();
  for (const field of ['dependencies', 'optionalDependencies', 'devDependencies', 'peerDependencies']) {
    const deps = manifest[field];
    if (deps && typeof deps === 'object') {
      for (const name of Object.keys(deps))
        if (name.startsWith('@atmosphere/') && name !== '@atmosphere/runtime') names.add(name);
    }
  }
  const require = createRequire(join(root, 'package.json'));
  for (const name of [...names].sort()) {
    let resolved: string;
    try {
      resolved = require.resolve(`${name}/register`);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' || code === 'MODULE_NOT_FOUND') result.skipped.push(name);
      else result.failed.push({ name, error: (error as Error).message });
      continue;
    }
    try {
      await import(pathToFileURL(resolved).href);
      result.loaded.push(name);
    } catch (error) {
      result.failed.push({ name, error: (error as Error).message });
      logger.warn(`autoload: ${name}/register failed to load: ${(error as Error).message}`);
    }
  }
  return result;
}
