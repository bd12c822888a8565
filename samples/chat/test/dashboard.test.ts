import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { CHROMIUM_LAUNCH_OPTIONS, connectTestClient, type TestClient } from '@atmosphere/runtime/testing';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Chat, startChat } from '../src/server.ts';

const TOKEN = 'dashboard-test-token-0123456789';

let browser: Browser;
let dir: string;
let chat: Chat;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'atmosphere-chat-dashboard-'));
  chat = await startChat({
    port: 0,
    logger: silentLogger,
    durable: join(dir, 'chat.sqlite'),
    adminToken: TOKEN,
    dashboardIntervalMs: 200,
    runtime: demoRuntime({ delayMs: 5, answer: () => 'one two three four five' }),
  });
  browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
});
afterAll(async () => {
  await browser?.close();
  await chat?.close();
  await rm(dir, { recursive: true, force: true });
});

async function text(page: Page, testId: string): Promise<string> {
  return ((await page.locator(`[data-testid="${testId}"]`).textContent()) ?? '').trim();
}

/**
 * Two pages of `context` whose console errors and page errors go to `problems`: the dashboard, logged in and
 * showing its first snapshot, and another one for the test to open.
 */
async function boardAndPage(
  context: BrowserContext,
  problems: string[],
): Promise<{ board: Page; page: Page }> {
  const board = await context.newPage();
  const page = await context.newPage();
  for (const each of [board, page]) {
    each.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    each.on('pageerror', (error) => problems.push(`page: ${error.message}`));
  }
  await board.goto(chat.admin.url);
  await board.locator('#token').fill(TOKEN);
  await board.locator('#token').press('Enter');
  await board.locator('[data-testid="updated"][datetime]').waitFor();
  return { board, page };
}

describe('the live dashboard', () => {
  test('refuses everyone without the admin token, and no page it serves holds the token', async () => {
    const html = await (await fetch(chat.admin.url)).text();
    expect(html).toContain('live dashboard');
    const scripts = [...html.matchAll(/src="([^"]+)"/g)].map((m) => m[1]!);
    expect(scripts.length).toBeGreaterThan(0);
    for (const script of scripts) {
      const body = await (await fetch(new URL(script, chat.admin.url))).text();
      expect(body).not.toContain(TOKEN);
    }
    expect(html).not.toContain(TOKEN);
    expect(chat.admin.generatedToken).toBeUndefined();

    const live = new URL('/admin/live?X-Atmosphere-Transport=sse&X-Atmosphere-tracking-id=0', chat.url);
    expect((await fetch(live)).status).toBe(401);
    expect((await fetch(new URL('/admin/metrics', chat.url))).status).toBe(403);
    const wrong = await fetch(new URL('/admin/login', chat.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token: `${TOKEN}x` }),
    });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('set-cookie')).toBeNull();
    // A form post (what a cross-site page could send) is not a login.
    const form = await fetch(new URL('/admin/login', chat.url), {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: `token=${TOKEN}`,
    });
    expect(form.status).toBe(415);

    const scrape = await fetch(new URL('/admin/metrics', chat.url), {
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect(scrape.status).toBe(200);
    expect(await scrape.text()).toMatch(/^atmosphere_rooms_active 2$/m);
  });

  test('paints after login and updates live when a chat client connects, talks and asks the assistant', async () => {
    const context = await browser.newContext();
    const problems: string[] = [];
    let client: TestClient | undefined;
    try {
      const page = await context.newPage();
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(`console: ${message.text()}`);
      });
      page.on('pageerror', (error) => problems.push(`page: ${error.message}`));
      await page.goto(chat.admin.url);
      await page.locator('[data-testid="login-form"]').waitFor();
      expect(await page.locator('[data-testid="board"]').isHidden()).toBe(true);
      await page.locator('#token').fill(TOKEN);
      await page.locator('#token').press('Enter');
      await page.locator('[data-testid="status"].open').waitFor();
      // The cookie holding the login is out of the page's reach.
      expect(await page.evaluate<string>('document.cookie')).toBe('');

      // The first snapshot: the two rooms with their AI members, no chat client (the dashboard's own
      // connection is not one).
      await page.locator('[data-testid="updated"][datetime]').waitFor();
      expect(await text(page, 'rooms')).toBe('2');
      expect(await text(page, 'room-members')).toBe('4');
      expect(await text(page, 'connections')).toBe('0');
      expect(await text(page, 'dashboards')).toBe('1');
      expect(await text(page, 'transports')).toBe('no chat client connected');
      const broadcastBefore = Number(await text(page, 'messages-total'));

      client = await connectTestClient(new URL('rooms', chat.url).toString(), 'sse');
      await page.locator('[data-testid="transports"] tr[data-transport="sse"]').waitFor();
      expect(await page.locator('[data-testid="transports"] tr').allTextContents()).toEqual(['sse1']);
      expect(await text(page, 'connections')).toBe('1');

      await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'carol' }));
      await client.messages.waitFor((m) => m.includes('join_ack'), 10_000);
      await expect.poll(() => text(page, 'room-members'), { timeout: 10_000 }).toBe('5');
      await client.send(
        JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: '@assistant what is new?' } }),
      );
      // The assistant answers over the demo runtime: one prompt, its tokens counted, messages broadcast.
      await client.messages.waitFor(
        (m) => m.includes('"from":"assistant"') && m.includes('complete'),
        10_000,
      );
      await expect.poll(() => text(page, 'ai-prompts'), { timeout: 10_000 }).toBe('1');
      await expect
        .poll(async () => Number(await text(page, 'ai-tokens')), { timeout: 10_000 })
        .toBeGreaterThan(0);
      expect(Number(await text(page, 'messages-total'))).toBeGreaterThan(broadcastBefore + 1);

      await client.close();
      client = undefined;
      await page
        .locator('[data-testid="transports"] tr[data-transport="sse"]')
        .waitFor({ state: 'detached' });
      expect(await text(page, 'connections')).toBe('0');
      // Idle again: the dashboard's own updates are not counted as traffic.
      await expect.poll(() => text(page, 'messages-rate'), { timeout: 10_000 }).toBe('0');
      expect(problems).toEqual([]);
    } finally {
      await client?.close();
      await context.close();
    }
  });

  test('shows token-to-screen percentiles once an answer was painted in a page with paint timing on', async () => {
    const context = await browser.newContext();
    const problems: string[] = [];
    try {
      const { board, page: ask } = await boardAndPage(context, problems);
      // Before any report: no figure, only dashes.
      for (const cell of ['paint-samples', 'paint-p50', 'paint-p90', 'paint-p99', 'receive-p50'])
        expect(await text(board, cell)).toBe('–');

      await ask.goto(new URL('ask/', chat.url).toString());
      await ask.locator('[data-testid="status"]', { hasText: 'Ready.' }).waitFor();
      await ask.locator('#prompt').fill('What is new?');
      await ask.locator('#prompt').press('Enter');
      const answer = ask.locator('li[data-role="assistant"][data-status="complete"]');
      await answer.waitFor({ timeout: 10_000 });
      expect(await answer.textContent()).toBe('one two three four five');

      // The page reports its painted frames (the first frame of an answer is always timed), the dashboard's
      // next snapshot shows them: as many samples as the histogram on /admin/metrics holds.
      await expect
        .poll(async () => Number(await text(board, 'paint-samples')), { timeout: 15_000 })
        .toBeGreaterThan(0);
      const scrape = await (
        await fetch(new URL('/admin/metrics', chat.url), { headers: { Authorization: `Bearer ${TOKEN}` } })
      ).text();
      const count = (name: string): number =>
        Number(new RegExp(`^${name}_count\\{[^}]*\\} (\\d+)$`, 'm').exec(scrape)?.[1]);
      expect(Number(await text(board, 'paint-samples'))).toBe(count('atmosphere_ai_token_to_paint_seconds'));
      expect(Number(await text(board, 'receive-samples'))).toBe(
        count('atmosphere_ai_token_to_receive_seconds'),
      );
      for (const row of ['paint', 'receive']) {
        const [p50, p90, p99] = await Promise.all(
          ['p50', 'p90', 'p99'].map(async (p) => Number(await text(board, `${row}-${p}`))),
        );
        expect(p50, `${row} p50`).toBeGreaterThan(0);
        expect(p90, `${row} p90`).toBeGreaterThanOrEqual(p50!);
        expect(p99, `${row} p99`).toBeGreaterThanOrEqual(p90!);
        // The histograms' highest finite bucket is 10 s.
        expect(p99, `${row} p99`).toBeLessThanOrEqual(10_000);
      }
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });

  test("the chat's room answers move the token-to-screen figures too: the room page reports paint timing", async () => {
    const context = await browser.newContext();
    const problems: string[] = [];
    try {
      const { board, page: room } = await boardAndPage(context, problems);
      const samples = async (): Promise<number> => {
        const shown = await text(board, 'paint-samples');
        return shown === '–' ? 0 : Number(shown);
      };
      const before = await samples();

      // #random, whose history holds no answer of the assistant (#lobby's holds the one of the test above),
      // and the answer after zoe's own line: the one to her question, not one replayed from history.
      await room.goto(`${chat.url}?name=zoe&room=random&transport=websocket`);
      await room.locator('[data-testid="input"]').fill('@assistant what is new?');
      await room.locator('[data-testid="input"]').press('Enter');
      const answer = room.locator(
        '#messages li[data-from="zoe"] ~ li[data-from="assistant"]:not(.streaming)',
      );
      await answer.waitFor({ timeout: 10_000 });
      expect(await answer.locator('.text').textContent()).toContain('one two three four five');

      // The first frame of an answer is always timed: the room page's report reaches the assistant's run and
      // the dashboard's next snapshot, which agrees with the histogram on /admin/metrics.
      await expect.poll(samples, { timeout: 15_000 }).toBeGreaterThan(before);
      const scrape = await (
        await fetch(new URL('/admin/metrics', chat.url), { headers: { Authorization: `Bearer ${TOKEN}` } })
      ).text();
      const counts = [...scrape.matchAll(/^atmosphere_ai_token_to_paint_seconds_count\{[^}]*\} (\d+)$/gm)];
      expect(await samples()).toBe(counts.reduce((total, match) => total + Number(match[1]), 0));
      // None of the room page's reports was refused (the counter has no refused line until one is).
      expect(scrape).toMatch(/^atmosphere_ai_paint_reports_total\{outcome="accepted"\} [1-9]\d*$/m);
      expect(scrape).not.toMatch(/^atmosphere_ai_paint_reports_total\{outcome="refused"\} [1-9]/m);
      expect(problems).toEqual([]);
    } finally {
      await context.close();
    }
  });
});
