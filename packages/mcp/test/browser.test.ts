import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { CHROMIUM_EXECUTABLE, CHROMIUM_LAUNCH_OPTIONS, hasChromium } from '@atmosphere/runtime/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { type Fixture, startFixture } from './helpers.ts';

/**
 * End to end: an MCP client (the SDK's, over Streamable HTTP) calls tools; a page in Chromium, subscribed to a
 * topic and joined to a room over Atmosphere's own protocol, shows what the tools did.
 */

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>loading</title></head>
<body><div id="answer"></div><ul id="members"></ul>
<script type="module">
const state = (window.state = { frames: [], tokens: [], progress: [], presence: [], members: [], ready: 0 });
function connect(path, onOpen, onMessage) {
  const params = new URLSearchParams({
    'X-Atmosphere-tracking-id': '0', 'X-Atmosphere-Framework': '5.0.7', 'X-Atmosphere-Transport': 'websocket',
    'X-Atmosphere-TrackMessageSize': 'true', 'X-atmo-protocol': 'true',
  });
  const ws = new WebSocket('ws://' + location.host + path + '?' + params);
  let buffer = '';
  let handshake = true;
  ws.onopen = () => onOpen(ws);
  ws.onmessage = (event) => {
    buffer += event.data;
    for (;;) {
      const bar = buffer.indexOf('|');
      if (bar === -1) return;
      const length = Number(buffer.slice(0, bar));
      if (buffer.length < bar + 1 + length) return;
      const message = buffer.slice(bar + 1, bar + 1 + length);
      buffer = buffer.slice(bar + 1 + length);
      if (handshake) { handshake = false; state.ready++; continue; }
      if (message !== 'X') onMessage(JSON.parse(message));
    }
  };
  return ws;
}
connect('/feed', () => {}, (frame) => {
  state.frames.push(frame);
  if (frame.type === 'streaming-text') {
    state.tokens.push(frame.data);
    document.getElementById('answer').textContent += frame.data;
  } else if (frame.type === 'progress') state.progress.push(frame.data);
  else if (frame.type === 'complete') document.title = 'complete';
});
connect('/rooms', (ws) => ws.send(JSON.stringify({ type: 'join', room: 'ops', memberId: 'alice', metadata: {} })), (frame) => {
  if (frame.type === 'join_ack') state.members = frame.members.map((m) => m.id);
  if (frame.type === 'presence') {
    state.presence.push(frame.action + ':' + frame.memberId);
    state.members = frame.action === 'join'
      ? [...state.members, frame.memberId]
      : state.members.filter((id) => id !== frame.memberId);
  }
  document.getElementById('members').innerHTML = state.members.map((id) => '<li>' + id + '</li>').join('');
  if (frame.type === 'join_ack') state.ready++;
});
</script></body></html>`;

interface PageState {
  frames: { type: string; sessionId: string; seq: number }[];
  tokens: string[];
  progress: string[];
  presence: string[];
  members: string[];
  ready: number;
}

let fixture: Fixture;
let browser: Browser;
let page: Page;

beforeAll(async () => {
  if (!hasChromium()) throw new Error(`${CHROMIUM_EXECUTABLE} is missing: apt-get install -y chromium`);
  [fixture, browser] = await Promise.all([
    startFixture(),
    chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] }),
  ]);
  fixture.atmosphere.managed('/feed', {});
  fixture.rooms.mount('/rooms');
  fixture.atmosphere.handle('/', {
    request(_request, response) {
      response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
      response.end(PAGE);
    },
  });
  page = await browser.newPage();
  page.on('pageerror', (error) => {
    throw error;
  });
  await page.goto(fixture.atmosphere.url('/'));
  // Two handshakes and the room's join_ack.
  await page.waitForFunction('window.state.ready === 3');
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fixture?.close();
});

async function connectClient(): Promise<Client> {
  const client = new Client({ name: 'browser-e2e', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(fixture.url)));
  return client;
}

function pageState(): Promise<PageState> {
  return page.evaluate<PageState>('window.state');
}

test('a tool streams an answer: the browser shows every token exactly once, in order', async () => {
  const tokens = Array.from({ length: 40 }, (_, i) => `t${i} `);
  const client = await connectClient();
  const progress: number[] = [];
  try {
    const result = await client.callTool(
      { name: 'stream_answer', arguments: { topic: '/feed', tokens } },
      undefined,
      { onprogress: (notification) => progress.push(notification.progress) },
    );
    expect(result.content).toEqual([{ type: 'text', text: tokens.join('') }]);
    await page.waitForFunction('document.title === "complete"');
    expect(await page.textContent('#answer')).toBe(tokens.join(''));
    const state = await pageState();
    expect(state.tokens).toEqual(tokens);
    // One session, its frames numbered 1, 2, 3… with no gap and no repeat; progress forwarded to the page.
    const sessions = new Set(state.frames.map((f) => f.sessionId));
    expect(sessions.size).toBe(1);
    expect(state.frames.map((f) => f.seq)).toEqual(state.frames.map((_, i) => i + 1));
    expect(state.progress).toEqual(tokens.map((_, i) => `token ${i + 1}`));
    expect(progress).toEqual(tokens.map((_, i) => i + 1));
  } finally {
    await client.close();
  }
});

test('a room member sees presence change because a tool seated (and unseated) a virtual member', async () => {
  const client = await connectClient();
  try {
    expect((await pageState()).members).toEqual(['alice']);
    await client.callTool({ name: 'seat', arguments: { room: 'ops', member: 'mcp-bot' } });
    await page.waitForFunction('document.querySelectorAll("#members li").length === 2');
    expect(
      await page.evaluate('[...document.querySelectorAll("#members li")].map((item) => item.textContent)'),
    ).toEqual(['alice', 'mcp-bot']);
    await client.callTool({ name: 'unseat', arguments: { room: 'ops', member: 'mcp-bot' } });
    await page.waitForFunction('document.querySelectorAll("#members li").length === 1');
    expect((await pageState()).presence).toEqual(['join:mcp-bot', 'leave:mcp-bot']);
  } finally {
    await client.close();
  }
});
