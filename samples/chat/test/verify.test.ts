import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildPage, type PageFiles } from '../src/page.ts';
import { type Chat, startChat } from '../src/server.ts';
import { verifyChat } from '../src/verify-check.ts';

let page: PageFiles;
let chat: Chat;
beforeAll(async () => {
  page = await buildPage();
  chat = await startChat({ port: 0, logger: silentLogger, page, runtime: demoRuntime({ delayMs: 2 }) });
});
afterAll(async () => {
  await chat.close();
});

test('the self-check passes against a running sample', async () => {
  expect(await verifyChat(chat)).toEqual([
    'two people join the lobby and see each other',
    'typing and messages reach the other person',
    'the assistant streams its answer to everyone, then it becomes a message',
    'a late joiner gets the conversation from history',
  ]);
});

test('the page and the model banner are served; nothing else is', async () => {
  const index = await fetch(chat.url);
  expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await index.text();
  const script = /src="(\/assets\/[^"]+\.js)"/.exec(html)?.[1];
  expect(script).toBeDefined();
  const bundle = await fetch(new URL(script!, chat.url));
  expect(bundle.status).toBe(200);
  expect(await bundle.text()).toContain('X-Atmosphere-Received');
  expect(await (await fetch(new URL('/api/info', chat.url))).json()).toEqual({
    model: { runtime: 'demo', demo: true },
    rooms: ['lobby', 'random'],
  });
  expect((await fetch(new URL('/../../package.json', chat.url))).status).toBe(404);
  expect((await fetch(new URL('/src/server.ts', chat.url))).status).toBe(404);
});

test('src/verify.ts exits 0', async () => {
  const run = promisify(execFile);
  const { stdout } = await run(
    process.execPath,
    ['--conditions=@atmosphere/source', fileURLToPath(new URL('../src/verify.ts', import.meta.url))],
    {
      timeout: 60_000,
    },
  );
  expect(stdout).toContain('chat sample verified (AI: demo model)');
});
