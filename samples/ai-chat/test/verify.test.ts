import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

test('src/verify.ts starts the sample, gets a streamed answer that completes, and exits 0', async () => {
  const env = { ...process.env };
  // No key: the check runs against the demo model, as a fresh checkout does.
  for (const name of [
    'LLM_API_KEY',
    'OPENAI_API_KEY',
    'GEMINI_API_KEY',
    'LLM_MODE',
    'LLM_BASE_URL',
    'LLM_MODEL',
  ])
    delete env[name];
  const child = spawn(process.execPath, ['--conditions=@atmosphere/source', 'src/verify.ts'], {
    cwd: root,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error(`verify.ts did not exit within 25 s:\n${output}`));
    }, 25_000);
    child.on('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  expect(output).toContain('AI chat sample (runtime: demo)');
  expect(output).toContain('ok     the answer completed (complete)');
  expect(output).toContain('ok     the weather tool ran (tool-start, tool-result)');
  expect(output).not.toContain('FAILED');
  expect(code).toBe(0);
});
