import { silentLogger } from '@atmosphere/runtime';
import { protocolUrl } from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Sample, startSample } from '../src/server.ts';

let sample: Sample;
beforeAll(async () => {
  sample = await startSample({ port: 0, dev: true, logger: silentLogger });
});
afterAll(async () => {
  await sample?.close();
});

/** The first message of a WebSocket to `url`, or why none came. */
function firstMessage(url: string): Promise<string> {
  const ws = new WebSocket(url.replace(/^http/, 'ws'));
  return new Promise<string>((resolve, reject) => {
    ws.addEventListener('message', (event) => resolve(String(event.data)), { once: true });
    ws.addEventListener('error', () => reject(new Error(`no WebSocket to ${url}`)), { once: true });
    ws.addEventListener('close', (event) => reject(new Error(`closed (${event.code}) ${url}`)), {
      once: true,
    });
  }).finally(() => ws.close());
}

test("dev server: Next's hot reload gets its upgrade through Atmosphere's routing, before any page was served", async () => {
  // Atmosphere attached first; without the routing to Next's upgrade handler this upgrade would be refused
  // (Next only adds a listener of its own while serving its first request).
  const hmr = JSON.parse(await firstMessage(new URL('/_next/hmr', sample.url).toString())) as {
    type?: string;
  };
  expect(typeof hmr.type).toBe('string');
  const handshake = await firstMessage(
    protocolUrl(new URL('/atmosphere/ai', sample.url).toString(), 'websocket'),
  );
  expect(handshake).toMatch(/\|/);
});
