import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { buildPages, type PageFiles } from '../src/pages.ts';
import { type Frameworks, startFrameworks } from '../src/server.ts';
import { verifyFrameworks } from '../src/verify-check.ts';

const ANSWER = 'Atmosphere moves every token to every page.';

let pages: PageFiles;
let app: Frameworks | undefined;
beforeAll(async () => {
  pages = await buildPages();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

test('the self-check passes against a running sample, with the exact answers of the model', async () => {
  app = await startFrameworks({
    port: 0,
    logger: silentLogger,
    pages,
    tickMs: 100,
    runtime: demoRuntime({ delayMs: 2, answer: () => ANSWER }),
  });
  expect(await verifyFrameworks(app, { answer: ANSWER })).toEqual([
    'the index and the React, Vue and Svelte pages are served with their scripts',
    '/ticker pushes a tick to its clients',
    '/live delivers a posted message to every client, the sender too',
    '/live refuses bad input to its sender alone and keeps serving',
    '/ai streams an answer, in order, to the asker alone',
    'two people join #lobby and see each other and assistant',
    'assistant streams its answer to the room, then says it',
    'a late joiner gets the conversation from history',
  ]);
});

test('the self-check fails when an answer is not the one expected', async () => {
  app = await startFrameworks({
    port: 0,
    logger: silentLogger,
    pages,
    tickMs: 100,
    runtime: demoRuntime({ delayMs: 0, answer: () => 'Something else.' }),
  });
  await expect(verifyFrameworks(app, { answer: ANSWER })).rejects.toThrow(
    'verify: /ai answers "Atmosphere moves every token to every page.", got "Something else."',
  );
});

test('without LLM_API_KEY the demo model answers', async () => {
  app = await startFrameworks({ port: 0, logger: silentLogger, pages, env: {} });
  expect(app.model).toEqual({ runtime: 'demo', demo: true });
});

test('src/verify.ts exits 0', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=@atmosphere/source', fileURLToPath(new URL('../src/verify.ts', import.meta.url))],
    { timeout: 60_000, env: { ...process.env, LLM_API_KEY: '', OPENAI_API_KEY: '', GEMINI_API_KEY: '' } },
  );
  expect(stdout).toContain('frameworks sample verified (AI: demo model)');
}, 60_000);
