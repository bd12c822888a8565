import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { silentLogger } from '@atmosphere/runtime';
import { afterEach, beforeAll, expect, test } from 'vitest';
import { DEMO_ANSWER, demoLanguageModel } from '../src/demo-model.ts';
import { buildPages, type PageFiles } from '../src/pages.ts';
import { type AiSdkSample, startAiSdkSample } from '../src/server.ts';
import { verifyAiSdk } from '../src/verify-check.ts';

let pages: PageFiles;
let app: AiSdkSample | undefined;
beforeAll(async () => {
  pages = await buildPages();
});
afterEach(async () => {
  await app?.close();
  app = undefined;
});

test('the self-check passes against a running sample, with the exact answer of the demo model', async () => {
  app = await startAiSdkSample({
    port: 0,
    logger: silentLogger,
    pages,
    model: demoLanguageModel({ delayMs: 0 }),
  });
  expect(await verifyAiSdk(app, { answer: DEMO_ANSWER })).toEqual([
    'the page is served with its script',
    'useChat over AtmosphereChatTransport streams an answer',
    'a tool call waits for approval, then runs and the answer goes on',
    "the SDK's DefaultChatTransport gets the same endpoint's answer from /api/chat",
  ]);
  expect(app.weatherCalls).toEqual(['Montreal']);
});

test('the self-check fails when the answer is not the one expected', async () => {
  app = await startAiSdkSample({
    port: 0,
    logger: silentLogger,
    pages,
    model: demoLanguageModel({ delayMs: 0 }),
  });
  await expect(verifyAiSdk(app, { answer: 'Something else.' })).rejects.toThrow(
    /verify: \/ai\/chat answers "Something else\."/,
  );
});

test('without a key the demo model answers', async () => {
  app = await startAiSdkSample({ port: 0, logger: silentLogger, pages, env: {} });
  expect(app.model).toBe('demo');
});

test('src/verify.ts exits 0', async () => {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--conditions=@atmosphere/source', fileURLToPath(new URL('../src/verify.ts', import.meta.url))],
    { timeout: 60_000, env: { ...process.env, LLM_API_KEY: '', OPENAI_API_KEY: '' } },
  );
  expect(stdout).toContain('ai-sdk sample verified (model: demo)');
}, 60_000);
