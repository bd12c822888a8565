import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Logger } from '../logger.ts';

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
