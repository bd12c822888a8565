import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The sample's folder: the Next app (`app/`, `next.config.ts`, `.next/` once built). */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** What the build is made of: the app, its config, and the workspace sources it bundles. */
const INPUTS = [
  'app',
  'src',
  'next.config.ts',
  '../../packages/ai/src',
  '../../packages/client/src',
  '../../packages/protocol/src',
  '../../packages/runtime/src',
];

function newest(path: string): number {
  if (!existsSync(path)) return 0;
  const stat = statSync(path);
  if (!stat.isDirectory()) return stat.mtimeMs;
  let latest = stat.mtimeMs;
  for (const entry of readdirSync(path)) latest = Math.max(latest, newest(join(path, entry)));
  return latest;
}

/** Whether `.next/` holds a build at least as new as every input. */
export function isBuilt(): boolean {
  const id = join(ROOT, '.next', 'BUILD_ID');
  if (!existsSync(id)) return false;
  const built = statSync(id).mtimeMs;
  return INPUTS.every((input) => newest(join(ROOT, input)) <= built);
}

/**
 * Runs `next build` in the sample unless `.next/` is up to date (the tests, the self-check and `start` share
 * one build). Rejects with Next's output when the build fails.
 */
export async function ensureBuilt(options: { timeoutMs?: number } = {}): Promise<'built' | 'up to date'> {
  if (isBuilt()) return 'up to date';
  const bin = createRequire(join(ROOT, 'package.json')).resolve('next/dist/bin/next');
  const child = spawn(process.execPath, [bin, 'build'], {
    cwd: ROOT,
    env: { ...process.env, NEXT_TELEMETRY_DISABLED: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 300_000);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  if (code !== 0) throw new Error(`next build failed (exit ${code}):\n${output}`);
  return 'built';
}
