import { CHROMIUM_LAUNCH_OPTIONS } from '@atmosphere/runtime/testing';
import { demoRuntime } from '@atmosphere/ai';
import { silentLogger } from '@atmosphere/runtime';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Chat, startChat } from '../src/server.ts';

const ANSWER = Array.from({ length: 30 }, (_, i) => `token${i + 1}`).join(' ');

describe('the main sample in Chromium: people and an AI member in a room', () => {
  let browser: Browser;
  let chat: Chat;

  beforeAll(async () => {
    chat = await startChat({
      port: 0,
      logger: silentLogger,
      runtime: demoRuntime({ delayMs: 10, answer: () => ANSWER }),
    });
    browser = await chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
  });
  afterAll(async () => {
    await browser?.close();
    await chat?.close();
  });

  async function open(name: string, transport: string, room = 'lobby'): Promise<Page> {
    const page = await browser.newPage();
    await page.goto(`${chat.url}?name=${name}&room=${room}&transport=${transport}`);
    await page.locator('[data-testid="status"].open').waitFor();
    await page.locator(`[data-testid="members"] li[data-member="${name}"]`).waitFor();
    return page;
  }

  /** The chat lines a page shows, as `from: text`. */
  const lines = async (page: Page): Promise<string[]> => {
    const items = page.locator('#messages li:not(.system)');
    const out: string[] = [];
    for (let i = 0; i < (await items.count()); i++) {
      const item = items.nth(i);
      out.push(
        `${await item.getAttribute('data-from')}: ${(await item.locator('.text').textContent()) ?? ''}`,
      );
    }
    return out;
  };

  test('two tabs talk: presence, typing, messages; the demo model is labelled', async () => {
    const alice = await open('alice', 'websocket');
    const bob = await open('bob', 'sse');
    expect(await alice.locator('[data-testid="model-banner"]').textContent()).toContain('DEMO model');
    await alice.locator('[data-testid="members"] li[data-member="bob"]').waitFor();
    expect(await bob.locator('[data-testid="members"] li.ai').allTextContents()).toEqual([
      'Assistant',
      'Poet',
    ]);

    await bob.locator('[data-testid="input"]').pressSequentially('hi');
    await expect.poll(() => alice.locator('[data-testid="typing"]').textContent()).toBe('bob is typing…');
    await bob.locator('[data-testid="input"]').fill('@poet hello alice');
    await bob.locator('[data-testid="input"]').press('Enter');
    await alice.locator('#messages li[data-from="bob"]').waitFor();
    // The poet answers bob's mention to the whole room, streaming into one bubble that then completes.
    await alice.locator('#messages li[data-from="poet"]:not(.streaming)').waitFor();
    await bob.locator('#messages li[data-from="poet"]:not(.streaming)').waitFor();
    expect(await lines(alice)).toEqual(['bob: @poet hello alice', `poet: ${ANSWER}`]);
    expect(await lines(bob)).toEqual(['bob: @poet hello alice', `poet: ${ANSWER}`]);
    await bob.close();
    await alice.locator('[data-testid="members"] li[data-member="bob"]').waitFor({ state: 'detached' });
    await alice.close();
  });

  test('the assistant streams to everyone token by token; a late joiner gets it from history', async () => {
    const carol = await open('carol', 'long-polling', 'random');
    const dave = await open('dave', 'websocket', 'random');
    await carol.locator('[data-testid="input"]').fill('what is new?');
    await carol.locator('[data-testid="input"]').press('Enter');
    // Tokens arrive while the bubble is still streaming, on both pages.
    await dave.locator('#messages li[data-from="assistant"].streaming').waitFor();
    await carol.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
    await dave.locator('#messages li[data-from="assistant"]:not(.streaming)').waitFor();
    expect(await lines(dave)).toEqual(['carol: what is new?', `assistant: ${ANSWER}`]);
    const erin = await open('erin', 'streaming', 'random');
    await erin.locator('#messages li[data-from="assistant"]').waitFor();
    expect(await lines(erin)).toEqual(['carol: what is new?', `assistant: ${ANSWER}`]);
    await Promise.all([carol.close(), dave.close(), erin.close()]);
  });
});
