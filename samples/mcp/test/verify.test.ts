import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));

test('src/verify.ts starts the sample, drives its tools over both transports, and exits 0', async () => {
  const child = spawn(process.execPath, ['--conditions=@atmosphere/source', 'src/verify.ts'], {
    cwd: root,
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
  expect(output).toContain('MCP dashboard sample');
  expect(output).toContain('ok     tools listed over Streamable HTTP and WebSocket');
  expect(output).toContain('ok     a streamed answer reaches the feed token by token, once each, in order');
  expect(output).toContain('ok     a presence subscription hears a virtual member join the room');
  expect(output).not.toContain('FAILED');
  expect(code).toBe(0);
});
