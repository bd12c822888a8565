import { rm } from 'node:fs/promises';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { type Fixture, startFixture } from '../fixtures/fixture-server.ts';
import { buildPages } from './build.ts';
import { launchChromium } from './chromium.ts';

let browser: Browser;
let pages: string;
let fixture: Fixture | undefined;
const opened: Page[] = [];

beforeAll(async () => {
  [browser, pages] = await Promise.all([launchChromium(), buildPages(['react', 'vue', 'svelte'])]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await rm(pages, { recursive: true, force: true });
});

afterEach(async () => {
  for (const page of opened.splice(0)) await page.close();
  await fixture?.close();
  fixture = undefined;
});

async function open(path: string): Promise<Page> {
  const page = await browser.newPage();
  opened.push(page);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(fixture!.url(path));
  if (errors.length > 0) throw new Error(`the page failed: ${errors.join('; ')}`);
  return page;
}

const text = async (page: Page, selector: string, expected: string): Promise<void> => {
  await page.locator(selector).filter({ hasText: expected }).first().waitFor({ timeout: 15_000 });
  expect((await page.locator(selector).first().textContent())?.trim()).toBe(expected);
};

describe.each([
  ['react', 'websocket'],
  ['vue', 'sse'],
  ['svelte', 'long-polling'],
] as const)('the %s page (%s)', (framework, transport) => {
  test('shows live messages, an AI stream and room presence', async () => {
    fixture = await startFixture({ staticDir: pages });
    const alice = await open(`/${framework}.html?member=alice&transport=${transport}`);
    await text(alice, '#chat-state', 'connected');
    await text(alice, '#presence', '1: alice');

    // Live messages: from the server, and from the page itself (echoed to everyone by /chat).
    await fixture.atmosphere.broadcast('/chat', `hello ${framework}`);
    await alice.locator('#messages li', { hasText: `hello ${framework}` }).waitFor();
    await alice.fill('#chat-input', 'typed in the page');
    await alice.click('#chat-send');
    await alice.locator('#messages li', { hasText: 'typed in the page' }).waitFor();
    expect(await alice.locator('#messages li').allTextContents()).toEqual([
      `hello ${framework}`,
      'typed in the page',
    ]);

    // The AI stream.
    await alice.locator('#ask:not([disabled])').click();
    await text(alice, '#ai-status', 'complete');
    await text(alice, '#ai-text', `You said: hello from ${framework}`);
    await text(alice, '#ai-model', 'fixture-model');

    // Presence: bob comes and goes (leaving the page sends the close request, so the leave is immediate).
    const bob = await open(`/${framework}.html?member=bob&transport=${transport}`);
    await text(bob, '#presence', '2: alice,bob');
    await text(alice, '#presence', '2: alice,bob');
    await bob.goto('about:blank');
    await text(alice, '#presence', '1: alice');
  });
});
