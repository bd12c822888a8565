import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';
import { connectTestClient, eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { mcpServer } from '../src/index.ts';
import { type Fixture, INITIALIZE, POST_HEADERS, raw, rawSession, startFixture } from './helpers.ts';

let fixture: Fixture;

beforeAll(async () => {
  fixture = await startFixture({
    resources: [
      {
        name: 'custom',
        uri: 'test://custom',
        mimeType: 'text/plain',
        read: (uri) => ({ contents: [{ uri: uri.href, text: 'custom' }] }),
      },
    ],
  });
  fixture.rooms.mount('/rooms');
});

afterAll(async () => {
  await fixture?.close();
});

async function connect(): Promise<Client> {
  const client = new Client({ name: 'endpoint-test', version: '1.0.0' });
  await client.connect(new StreamableHTTPClientTransport(new URL(fixture.url)));
  return client;
}

test('a tool streams into a room as a virtual member: members get the tagged AI frames in order', async () => {
  const member = await connectTestClient(fixture.atmosphere.url('/rooms'), 'websocket');
  await member.send(JSON.stringify({ type: 'join', room: 'studio', memberId: 'viewer', metadata: {} }));
  expect(JSON.parse(await member.messages.next())).toMatchObject({ type: 'join_ack', room: 'studio' });
  const client = await connect();
  try {
    const tokens = ['one ', 'two ', 'three'];
    await client.callTool({ name: 'room_answer', arguments: { room: 'studio', member: 'writer', tokens } });
    expect(JSON.parse(await member.messages.next())).toMatchObject({
      type: 'presence',
      action: 'join',
      memberId: 'writer',
    });
    const frames: Record<string, unknown>[] = [];
    for (let i = 0; i < 10; i++) {
      const frame = JSON.parse(await member.messages.next()) as Record<string, unknown>;
      frames.push(frame);
      if (frame['type'] === 'complete') break;
    }
    expect(frames.filter((f) => f['type'] === 'streaming-text').map((f) => f['data'])).toEqual(tokens);
    for (const frame of frames) expect(frame).toMatchObject({ room: 'studio', from: 'writer' });
    expect(frames.map((f) => f['seq'])).toEqual(frames.map((_, i) => i + 1));
  } finally {
    await client.close();
    await member.close();
  }
});

test('endpoint.notifyResourceUpdated() reaches the sessions subscribed to the URI, and only them', async () => {
  const subscribed = await connect();
  const other = await connect();
  const updates = new Inbox<string>();
  const stray = new Inbox<string>();
  subscribed.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => updates.push(n.params.uri));
  other.setNotificationHandler(ResourceUpdatedNotificationSchema, (n) => stray.push(n.params.uri));
  try {
    await subscribed.subscribeResource({ uri: 'test://custom' });
    fixture.endpoint.notifyResourceUpdated('test://custom');
    fixture.endpoint.notifyResourceUpdated('test://elsewhere');
    expect(await updates.next()).toBe('test://custom');
    await Promise.all([subscribed.ping(), other.ping()]);
    expect(updates.items).toEqual(['test://custom']);
    expect(stray.items).toEqual([]);
  } finally {
    await Promise.all([subscribed.close(), other.close()]);
  }
});

test('sessions past maxSessions get 503; an idle session is closed after sessionIdleMs', async () => {
  const endpoint = mcpServer(fixture.atmosphere, {
    path: '/small',
    name: 'small',
    version: '1.0.0',
    rooms: false,
    security: { maxSessions: 1, sessionIdleMs: 200 },
  });
  const url = fixture.atmosphere.url('/small');
  try {
    await rawSession(url);
    const refused = await raw(url, { headers: { ...POST_HEADERS }, body: INITIALIZE });
    expect(refused.status).toBe(503);
    expect(JSON.parse(refused.body)).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32000 } });
    // Nothing more is asked of it: the sweep closes it, and a new session can start.
    await eventually(() => endpoint.sessionCount === 0, 'the idle session to close');
    await rawSession(url);
    expect(endpoint.sessionCount).toBe(1);
  } finally {
    await endpoint.close();
  }
});
