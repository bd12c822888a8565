import { type ChildProcess, spawn } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually } from '@atmosphere/runtime/testing';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { aiEndpoint, openAiRuntime, tool } from '@atmosphere/ai';
import { openAiTranscript, startReplayServer } from '@atmosphere/ai/testing';
import { type Fixture, startFixture } from '../fixtures/fixture-server.ts';
import { range } from '../helpers.ts';
import { buildPages } from './build.ts';
import { launchChromium } from './chromium.ts';

const TRANSPORTS = ['websocket', 'sse', 'streaming', 'long-polling'] as const;

interface HarnessWindow {
  harness: {
    log: string[];
    messages: string[];
    start(request: Record<string, unknown>): void;
    streamAi(request: Record<string, unknown>): void;
    prompt(text: string): void;
    approve(): void;
    push(message: string): void;
    trackingId(): string | undefined;
    status(): { blockedTransports: string[]; transport: string };
    close(): Promise<void>;
  };
}

let browser: Browser;
let pages: string;
let fixture: Fixture | undefined;
let page: Page | undefined;

beforeAll(async () => {
  [browser, pages] = await Promise.all([launchChromium(), buildPages(['harness'])]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rm(pages, { recursive: true, force: true });
});

afterEach(async () => {
  await page?.close();
  page = undefined;
  await fixture?.close();
  fixture = undefined;
});

async function open(base: string): Promise<Page> {
  const opened = await browser.newPage();
  page = opened;
  opened.on('pageerror', (error) => {
    throw error;
  });
  await opened.goto(`${base}/harness.html`);
  await opened.waitForFunction(() => document.title === 'harness ready');
  return opened;
}

/** Runs a wait; on failure, the error says what the page had logged and received. */
async function waitOrExplain<T>(target: Page, what: string, wait: () => Promise<T>): Promise<T> {
  try {
    return await wait();
  } catch (error) {
    const state = await target
      .evaluate(() =>
        JSON.stringify({
          log: (window as unknown as HarnessWindow).harness.log,
          messages: (window as unknown as HarnessWindow).harness.messages,
        }),
      )
      .catch(() => 'unavailable');
    throw new Error(
      `Waiting for ${what} failed (${(error as Error).message.split('\n')[0]}); page state: ${state}`,
      { cause: error },
    );
  }
}

/** Waits until the page's event log has an entry starting with `prefix` (after `from`), returns its index. */
async function waitForLog(target: Page, prefix: string, from = 0): Promise<number> {
  const handle = await waitOrExplain(target, `the event ${prefix}`, () =>
    target.waitForFunction(
      ([p, f]) => {
        const log = (window as unknown as HarnessWindow).harness.log;
        const index = log.findIndex((item, i) => i >= f && item.startsWith(p));
        // 0 is a valid index but not truthy: answer index + 1.
        return index === -1 ? false : index + 1;
      },
      [prefix, from] as const,
      { timeout: 15_000 },
    ),
  );
  return ((await handle.jsonValue()) as number) - 1;
}

async function waitForMessages(target: Page, count: number): Promise<string[]> {
  await waitOrExplain(target, `${count} messages`, () =>
    target.waitForFunction((n) => (window as unknown as HarnessWindow).harness.messages.length >= n, count, {
      timeout: 15_000,
    }),
  );
  return target.evaluate(() => (window as unknown as HarnessWindow).harness.messages);
}

const broadcast = (server: Fixture, from: number, to: number): Promise<unknown> =>
  Promise.all(range(from, to).map((n) => server.atmosphere.broadcast('/feed', n)));

describe.each(TRANSPORTS)('%s in Chromium', (transport) => {
  test('connects, receives, sends, and survives a cut connection with nothing lost or twice', async () => {
    fixture = await startFixture({ staticDir: pages });
    const target = await open(fixture.url(''));
    await target.evaluate(
      (t) =>
        (window as unknown as HarnessWindow).harness.start({
          path: '/feed',
          transport: t,
          fallbackTransport: [],
          reconnectInterval: 50,
        }),
      transport,
    );
    await waitForLog(target, `open:${transport}`);
    await broadcast(fixture, 1, 5);
    await waitForMessages(target, 5);
    const before = await target.evaluate(() => (window as unknown as HarnessWindow).harness.trackingId());

    expect(fixture.cut()).toBeGreaterThan(0);
    await broadcast(fixture, 6, 8);
    await waitForLog(target, `reopen:${transport}`);
    await broadcast(fixture, 9, 10);
    expect(await waitForMessages(target, 10)).toEqual(range(1, 10));
    expect(await target.evaluate(() => (window as unknown as HarnessWindow).harness.trackingId())).toBe(
      before,
    );

    // Sending: /chat echoes to everyone, so the page sees its own message come back.
    await target.evaluate(() => (window as unknown as HarnessWindow).harness.close());
    await target.evaluate((t) => {
      const w = window as unknown as HarnessWindow;
      w.harness.messages.length = 0;
      w.harness.start({ path: '/chat', transport: t, fallbackTransport: [] });
      w.harness.push('from the browser');
    }, transport);
    expect(await waitForMessages(target, 1)).toEqual(['from the browser']);
  });
});

describe.each([
  ['refuse-403', 'sse'],
  ['drop', 'long-polling'],
] as const)('WebSocket upgrade answered with %s', (policy, fallback) => {
  test(`falls back to ${fallback} in Chromium`, async () => {
    fixture = await startFixture({ staticDir: pages });
    fixture.setUpgradePolicy(policy);
    const target = await open(fixture.url(''));
    await target.evaluate(
      (f) => (window as unknown as HarnessWindow).harness.start({ path: '/feed', fallbackTransport: f }),
      fallback,
    );
    await waitForLog(target, `open:${fallback}`);
    expect(await target.evaluate(() => (window as unknown as HarnessWindow).harness.log.slice(0, 2))).toEqual(
      [`transportFailure:websocket->${fallback}`, `open:${fallback}`],
    );
    await broadcast(fixture, 1, 3);
    expect(await waitForMessages(target, 3)).toEqual(range(1, 3));
    expect(
      (await target.evaluate(() => (window as unknown as HarnessWindow).harness.status())).blockedTransports,
    ).toEqual(['websocket']);
  });
});

test('leaving the page sends the close request (sendBeacon): the server disconnects the client at once', async () => {
  fixture = await startFixture({ staticDir: pages });
  const target = await open(fixture.url(''));
  await target.evaluate(() =>
    (window as unknown as HarnessWindow).harness.start({ path: '/feed', transport: 'sse' }),
  );
  await waitForLog(target, 'open:sse');
  const id = await target.evaluate(() => (window as unknown as HarnessWindow).harness.trackingId());
  await target.goto('about:blank');
  // The grace period is 60 s: only the close request explains a disconnect within the wait below.
  await eventually(() => fixture!.disconnects.length > 0, 'the disconnect', 5_000);
  expect(fixture.disconnects).toEqual([`${id}:client-closed`]);
});

describe('the server process is killed and restarted', () => {
  const MAIN = resolve(dirname(fileURLToPath(import.meta.url)), '../fixtures/main.ts');
  let child: ChildProcess | undefined;

  afterEach(() => {
    child?.kill('SIGKILL');
    child = undefined;
  });

  async function startChild(port: number): Promise<number> {
    const started = spawn(process.execPath, ['--conditions=@atmosphere/source', MAIN, String(port), pages], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    child = started;
    return new Promise((resolvePort, reject) => {
      let output = '';
      const timer = setTimeout(() => reject(new Error(`the fixture did not start: ${output}`)), 20_000);
      started.stdout.on('data', (chunk: Buffer) => {
        output += chunk.toString();
        const match = /READY (\d+)/.exec(output);
        if (match) {
          clearTimeout(timer);
          resolvePort(Number(match[1]));
        }
      });
      started.once('exit', (code) => reject(new Error(`the fixture exited with ${code}: ${output}`)));
    });
  }

  async function control(port: number, from: number, to: number): Promise<void> {
    for (const n of range(from, to)) {
      const response = await fetch(`http://127.0.0.1:${port}/__control/broadcast?path=/feed`, {
        method: 'POST',
        body: n,
      });
      expect(response.status).toBe(200);
    }
  }

  test.each(TRANSPORTS)(
    '%s: the page reconnects to the new process under its tracking id; nothing twice',
    async (transport) => {
      const port = await startChild(0);
      const target = await open(`http://127.0.0.1:${port}`);
      await target.evaluate(
        (t) =>
          (window as unknown as HarnessWindow).harness.start({
            path: '/feed',
            transport: t,
            fallbackTransport: [],
            reconnectInterval: 100,
            maxReconnectInterval: 500,
          }),
        transport,
      );
      await waitForLog(target, `open:${transport}`);
      await control(port, 1, 4);
      await waitForMessages(target, 4);
      const id = await target.evaluate(() => (window as unknown as HarnessWindow).harness.trackingId());
      const killed = child!;
      const exited = new Promise((done) => killed.once('exit', done));
      killed.kill('SIGKILL');
      await exited;
      await waitForLog(target, 'close:lost');
      await startChild(port);
      await waitForLog(target, `reopen:${transport}`);
      await control(port, 5, 8);
      expect(await waitForMessages(target, 8)).toEqual(range(1, 8));
      expect(await target.evaluate(() => (window as unknown as HarnessWindow).harness.trackingId())).toBe(id);
    },
  );
});

describe('the durable-session token in Chromium', () => {
  const sessionOf = async (target: Page): Promise<string[]> => {
    await waitOrExplain(target, 'a session frame', () =>
      target.waitForFunction(() =>
        (window as unknown as HarnessWindow).harness.log.some((entry) => entry.startsWith('session:')),
      ),
    );
    const entry = await target.evaluate(() =>
      (window as unknown as HarnessWindow).harness.log.find((e) => e.startsWith('session:')),
    );
    return entry!.split(':').slice(1);
  };
  const start = (target: Page, session: string | undefined, transport: string): Promise<void> =>
    target.evaluate(
      ([s, t]) =>
        (window as unknown as HarnessWindow).harness.start({
          path: '/feed',
          transport: t,
          fallbackTransport: [],
          ...(s === undefined ? {} : { session: s }),
        }),
      [session, transport] as const,
    );

  test.each(['websocket', 'sse'] as const)(
    "%s: session: 'sessionStorage' keeps the token across a reload and the server resumes it",
    async (transport) => {
      fixture = await startFixture({ staticDir: pages });
      const target = await open(fixture.url(''));
      await start(target, 'sessionStorage', transport);
      const [status, token] = await sessionOf(target);
      expect(status).toBe('created');
      await target.reload();
      await target.waitForFunction(() => document.title === 'harness ready');
      await start(target, 'sessionStorage', transport);
      expect(await sessionOf(target)).toEqual(['resumed', token]);
    },
  );

  test('the default (memory) keeps the token for the page only: a reload starts a new session', async () => {
    fixture = await startFixture({ staticDir: pages });
    const target = await open(fixture.url(''));
    await start(target, undefined, 'websocket');
    const [status, token] = await sessionOf(target);
    expect(status).toBe('created');
    await target.reload();
    await target.waitForFunction(() => document.title === 'harness ready');
    await start(target, undefined, 'websocket');
    const [again, other] = await sessionOf(target);
    expect(again).toBe('created');
    expect(other).not.toBe(token);
  });
});

describe('an AI answer and a page reload in Chromium', () => {
  const CHUNKS = Array.from({ length: 40 }, (_, i) => `w${i} `);

  test.each(['websocket', 'sse'] as const)(
    "%s: with session: 'sessionStorage', a page reloaded mid-answer re-attaches and shows the whole answer once",
    async (transport) => {
      const replay = await startReplayServer([
        { kind: 'sse', body: openAiTranscript({ text: CHUNKS }), delayMs: 30 },
      ]);
      try {
        fixture = await startFixture({ staticDir: pages });
        aiEndpoint(fixture.atmosphere, {
          path: '/answers',
          runtime: openAiRuntime({
            env: {},
            apiKey: 'sk-test-reload-0123456789',
            model: 'gpt-4o-mini',
            baseUrl: replay.baseUrl,
            retry: { maxRetries: 0 },
          }),
        });
        const target = await open(fixture.url(''));
        const begin = (t: string): Promise<void> =>
          target.evaluate(
            (tr) =>
              (window as unknown as HarnessWindow).harness.streamAi({
                path: '/answers',
                transport: tr,
                fallbackTransport: [],
                session: 'sessionStorage',
              }),
            t,
          );
        await begin(transport);
        await target.evaluate(() => (window as unknown as HarnessWindow).harness.prompt('tell me'));
        await waitForMessages(target, 5);
        await target.reload();
        await target.waitForFunction(() => document.title === 'harness ready');
        await begin(transport);
        await waitForLog(target, 'complete');
        const shown = await target.evaluate(() =>
          (window as unknown as HarnessWindow).harness.messages.join(''),
        );
        expect(shown).toBe(CHUNKS.join(''));
        expect(
          await target.evaluate(() =>
            (window as unknown as HarnessWindow).harness.log.filter((e) => e === 'complete'),
          ),
        ).toEqual(['complete']);
        // One model call: the reload re-attached to the answer, it did not ask again.
        expect(replay.requests.items).toHaveLength(1);
      } finally {
        await replay.close();
      }
    },
  );
});

test("with session: 'sessionStorage', an approval answered before a reload is not asked again; the answer completes once", async () => {
  const CHUNKS = Array.from({ length: 30 }, (_, i) => `r${i} `);
  const replay = await startReplayServer([
    {
      kind: 'sse',
      body: openAiTranscript({
        toolCalls: [{ id: 'call_reload_1', name: 'get_weather', arguments: ['{"city":', '"Montréal"}'] }],
      }),
    },
    { kind: 'sse', body: openAiTranscript({ text: CHUNKS }), delayMs: 30 },
  ]);
  const calls: string[] = [];
  try {
    fixture = await startFixture({ staticDir: pages });
    aiEndpoint(fixture.atmosphere, {
      path: '/answers',
      runtime: openAiRuntime({
        env: {},
        apiKey: 'sk-test-reload-0123456789',
        model: 'gpt-4o-mini',
        baseUrl: replay.baseUrl,
        retry: { maxRetries: 0 },
      }),
      tools: [
        tool({
          name: 'get_weather',
          description: 'Current weather of a city',
          parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
          requiresApproval: true,
          execute: (args: unknown) => {
            calls.push(String((args as { city: string }).city));
            return { celsius: 21 };
          },
        }),
      ],
    });
    const target = await open(fixture.url(''));
    const begin = (): Promise<void> =>
      target.evaluate(() =>
        (window as unknown as HarnessWindow).harness.streamAi({
          path: '/answers',
          transport: 'websocket',
          fallbackTransport: [],
          session: 'sessionStorage',
        }),
      );
    await begin();
    await target.evaluate(() => (window as unknown as HarnessWindow).harness.prompt('Weather in Montréal?'));
    await waitForLog(target, 'approval:');
    await target.evaluate(() => (window as unknown as HarnessWindow).harness.approve());
    await waitForMessages(target, 5);
    await target.reload();
    await target.waitForFunction(() => document.title === 'harness ready');
    await begin();
    await waitForLog(target, 'complete');
    const log = await target.evaluate(() => (window as unknown as HarnessWindow).harness.log);
    expect(log.filter((entry) => entry.startsWith('approval:'))).toEqual([]);
    expect(log.filter((entry) => entry === 'complete')).toEqual(['complete']);
    expect(await target.evaluate(() => (window as unknown as HarnessWindow).harness.messages.join(''))).toBe(
      CHUNKS.join(''),
    );
    expect(calls).toEqual(['Montréal']);
    expect(replay.requests.items).toHaveLength(2);
  } finally {
    await replay.close();
  }
});
