import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildPage, type PageFiles } from '../src/page.ts';
import { type Chat, DURABLE_FILE, freeName, isQuestion, startChat } from '../src/server.ts';
import { verifyChat } from '../src/verify-check.ts';

let page: PageFiles;
let chat: Chat;
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atmosphere-chat-verify-test-'));
  page = await buildPage();
  chat = await startChat({
    port: 0,
    logger: silentLogger,
    page,
    durable: join(dir, 'durable.sqlite'),
    runtime: demoRuntime({ delayMs: 2 }),
  });
});
afterAll(async () => {
  await chat.close();
  await rm(dir, { recursive: true, force: true });
});

test('the self-check passes against a running sample', async () => {
  expect(await verifyChat(chat)).toEqual([
    'two people join the lobby and see each other',
    'a name in use is refused; the server offers a free one',
    'typing and messages reach the other person',
    'the assistant streams its answer to a question to everyone, then it becomes a message',
    'people talk without the AI answering; the poet answers its mention',
    'a late joiner gets the conversation from history',
  ]);
});

test('durable on SQLite by default, in a file under the sample that git ignores; off with durable: false', async () => {
  expect(chat.durableFile).toBe(join(dir, 'durable.sqlite'));
  expect(existsSync(join(dir, 'durable.sqlite'))).toBe(true);
  expect(DURABLE_FILE).toBe(fileURLToPath(new URL('../.atmosphere/durable.sqlite', import.meta.url)));
  const git = await promisify(execFile)('git', ['check-ignore', DURABLE_FILE]);
  expect(git.stdout.trim()).toBe(DURABLE_FILE);
  const memory = await startChat({ port: 0, logger: silentLogger, page, durable: false });
  try {
    expect(memory.durableFile).toBeUndefined();
  } finally {
    await memory.close();
  }
  const off = await startChat({
    port: 0,
    logger: silentLogger,
    page,
    env: { ATMOSPHERE_DURABLE_SQLITE: 'off' },
  });
  try {
    expect(off.durableFile).toBeUndefined();
  } finally {
    await off.close();
  }
});

test('names and questions', () => {
  expect(freeName(['alice', 'assistant'], 'bob')).toBe('bob');
  expect(freeName(['alice', 'Alice-2'], 'ALICE')).toBe('ALICE-3');
  expect(freeName(['assistant'], 'Assistant')).toBe('Assistant-2');
  expect(isQuestion('what is new?')).toBe(true);
  expect(isQuestion('is it “done?”')).toBe(true);
  expect(isQuestion('what a finish')).toBe(false);
  expect(isQuestion('really? yes')).toBe(false);
});

test('the page and the model banner are served; nothing else is', async () => {
  const index = await fetch(chat.url);
  expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const html = await index.text();
  // The page's script and the chunk it shares with the dashboard page (@atmosphere/client).
  const scripts = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+\.js)"/g)].map((m) => m[1]!);
  expect(scripts.length).toBeGreaterThan(0);
  let code = '';
  for (const script of scripts) {
    const bundle = await fetch(new URL(script, chat.url));
    expect(bundle.status).toBe(200);
    code += await bundle.text();
  }
  expect(code).toContain('X-Atmosphere-Received');
  expect(await (await fetch(new URL('/api/info', chat.url))).json()).toEqual({
    model: { runtime: 'demo', demo: true },
    rooms: ['lobby', 'random'],
    answers: { lobby: 'questions', random: 'mentions' },
  });
  const post = (room: string, body: string) =>
    fetch(new URL(`/api/rooms/${room}/answers`, chat.url), { method: 'POST', body });
  expect((await post('lobby', '{"answers":"always"}')).status).toBe(400);
  expect((await post('lobby', 'not json')).status).toBe(400);
  expect((await post('attic', '{"answers":"mentions"}')).status).toBe(404);
  expect((await fetch(new URL('/api/rooms/lobby/name?wanted=a%20b', chat.url))).status).toBe(400);
  expect(chat.answersOf('lobby')).toBe('questions');
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
  expect(stdout).toContain('chat sample verified (AI: demo model; durable on SQLite)');
});
