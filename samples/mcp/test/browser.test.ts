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
