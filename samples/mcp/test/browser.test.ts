import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { silentLogger } from '@atmosphere/runtime';
import { CHROMIUM_EXECUTABLE, CHROMIUM_LAUNCH_OPTIONS, hasChromium } from '@atmosphere/runtime/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type McpDashboard, startMcpDashboard } from '../src/server.ts';
import { tokensOf } from '../src/tools.ts';

let dashboard: McpDashboard;
let browser: Browser;
let page: Page;
let client: Client;

beforeAll(async () => {
  if (!hasChromium()) throw new Error(`${CHROMIUM_EXECUTABLE} is missing: apt-get install -y chromium`);
  [dashboard, browser] = await Promise.all([
    startMcpDashboard({ port: 0, logger: silentLogger }),
    chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] }),
  ]);
  page = await browser.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  await page.goto(dashboard.url);
  await page.waitForFunction('document.title === "Atmosphere MCP dashboard"');
  client = new Client({ name: 'dashboard-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(dashboard.mcpUrl)));
}, 60_000);

afterAll(async () => {
  await client?.close();
  await browser?.close();
  await dashboard?.close();
});

test('an announcement made by a tool appears on the dashboard', async () => {
  await client.callTool({ name: 'announce', arguments: { text: 'Release 1.2 is out', level: 'success' } });
  await page.waitForSelector('li.announcement.success');
  expect(await page.textContent('#announcements')).toBe('Release 1.2 is out');
});

test('an answer streamed by a tool is typed out on the dashboard and completes', async () => {
  const text = 'The dashboard shows this answer one token at a time, in order, and only once.';
  await client.callTool({ name: 'stream_answer', arguments: { title: 'Live answer', text, delayMs: 5 } });
  await page.waitForSelector('article.answer.complete');
  expect(await page.textContent('article.answer .title')).toBe('Live answer');
  expect(await page.textContent('article.answer .body')).toBe(text);
  expect(await page.textContent('article.answer .progress')).toBe(
    `${tokensOf(text).length}/${tokensOf(text).length} tokens`,
  );
});

test('a virtual member joins the room and speaks; the dashboard shows the presence and the message', async () => {
  await client.callTool({ name: 'say_in_room', arguments: { text: 'Hello from MCP', member: 'claude' } });
  await page.waitForFunction(
    '[...document.querySelectorAll("#members li")].some((li) => li.textContent === "claude")',
  );
  await page.waitForFunction(
    'document.querySelector("#messages").textContent.includes("claude: Hello from MCP")',
  );
  await client.callTool({ name: 'leave_room', arguments: { member: 'claude' } });
  await page.waitForFunction(
    '![...document.querySelectorAll("#members li")].some((li) => li.textContent === "claude")',
  );
  expect(await page.textContent('#messages')).toBe('claude joinedclaude: Hello from MCPclaude left');
});

test('the dashboard fits at desktop and phone width, with no console error', async () => {
  const problems: string[] = [];
  await client.callTool({ name: 'join_room', arguments: { member: 'claude' } });
  for (const [label, width, height] of [
    ['desktop', 1280, 800],
    ['phone', 390, 844],
  ] as const) {
    const view = await browser.newPage({ viewport: { width, height } });
    view.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${label}: ${message.text()}`);
    });
    view.on('pageerror', (error) => problems.push(`${label}: ${error.message}`));
    await view.goto(dashboard.url);
    await view.waitForFunction(
      '[...document.querySelectorAll("#members li")].some((li) => li.textContent === "claude")',
    );
    await client.callTool({
      name: 'announce',
      arguments: { text: 'Deploy of api finished', level: 'success' },
    });
    await client.callTool({
      name: 'say_in_room',
      arguments: { text: `Watching on a ${label}`, member: 'claude' },
    });
    await view.waitForSelector('li.announcement.success');
    await view.waitForFunction(
      `document.querySelector("#messages").textContent.includes("Watching on a ${label}")`,
    );
    await client.callTool({
      name: 'stream_answer',
      arguments: {
        title: 'Today’s deploys',
        text: `Three services shipped; ${label} view is live.`,
        delayMs: 2,
      },
    });
    await view.waitForSelector('article.answer.complete');
    expect(await view.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(width);
    // Written into the sample's folder (for its README) only when asked: a test run leaves the tree clean.
    if (process.env['UPDATE_SCREENSHOTS'] === '1')
      await view.screenshot({ path: new URL(`../screenshots/${label}.png`, import.meta.url).pathname });
    await view.close();
  }
  await client.callTool({ name: 'leave_room', arguments: { member: 'claude' } });
  expect(problems).toEqual([]);
});
