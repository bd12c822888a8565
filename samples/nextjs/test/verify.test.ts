import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { protocolUrl } from '@atmosphere/runtime/testing';
import { ensureBuilt, isBuilt } from '../src/build.ts';
import { type Sample, startSample } from '../src/server.ts';
import { verifySample } from '../src/verify-check.ts';

let sample: Sample;
beforeAll(async () => {
  await ensureBuilt();
  sample = await startSample({ port: 0, logger: silentLogger, runtime: demoRuntime({ delayMs: 2 }) });
});
afterAll(async () => {
  await sample?.close();
});

test('the self-check passes against the custom server (production build)', async () => {
  expect(await verifySample(sample)).toEqual([
    'Next serves the page (with its icon) from the custom server',
    'the answer streams over WebSocket from the custom server',
    'the answer streams over sse from the route handler',
    'the answer streams over long-polling from the route handler',
    "a path neither serves is Next's 404",
  ]);
  expect(isBuilt()).toBe(true);
});

/** A protocol WebSocket to `path`, resolved once the handshake arrived; `closed` resolves with the close code. */
async function openWebSocket(path: string): Promise<{ ws: WebSocket; closed: Promise<number> }> {
  const ws = new WebSocket(
    protocolUrl(new URL(path, sample.url).toString(), 'websocket').replace(/^http/, 'ws'),
  );
  const closed = new Promise<number>((resolve) =>
    ws.addEventListener('close', (event) => resolve(event.code)),
  );
  await new Promise((resolve, reject) => {
    ws.addEventListener('message', resolve, { once: true });
    ws.addEventListener('error', reject, { once: true });
    ws.addEventListener('close', (event) => reject(new Error(`closed (${event.code})`)), { once: true });
  });
  return { ws, closed };
}

test("an Atmosphere path Next also serves: its WebSocket is Atmosphere's alone, Next does not end it", async () => {
  // `/api/ai` is a route handler of Next's too. Next's own `upgrade` listener (which `listen()` keeps it from
  // adding) would see this upgrade as well, match the route and end the socket.
  // (Next adds it while serving its first request.)
  expect((await fetch(sample.url)).status).toBe(200);
  const shadow = sample.atmosphere.managed('/api/ai', { onReady: (resource) => resource.write('hello') });
  try {
    const { ws, closed } = await openWebSocket('/api/ai');
    // An upgrade Next handles (its page) completes through Next's handler before we look.
    const other = new WebSocket(new URL('/', sample.url).toString().replace(/^http/, 'ws'));
    await new Promise((resolve) => {
      other.addEventListener('close', resolve);
      other.addEventListener('error', resolve);
    });
    const echo = Promise.race([
      new Promise((resolve) => ws.addEventListener('message', resolve, { once: true })),
      closed.then((code) => Promise.reject(new Error(`the WebSocket was closed (${code})`))),
    ]);
    await sample.atmosphere.broadcast('/api/ai', 'still here');
    await echo;
    expect(ws.readyState).toBe(WebSocket.OPEN);
    ws.close();
    expect(await closed).toBe(1005);
  } finally {
    shadow.remove();
  }
});

test('src/verify.ts exits 0', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=@atmosphere/source', fileURLToPath(new URL('../src/verify.ts', import.meta.url))],
    { timeout: 120_000 },
  );
  expect(stdout).toContain('next build: up to date');
  expect(stdout).toContain('Next.js sample verified (AI: demo model; custom server and route handler)');
});
