import type { IncomingMessage } from 'node:http';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { WebSocketClientTransport } from '@modelcontextprotocol/sdk/client/websocket.js';
import {
  LoggingMessageNotificationSchema,
  ResourceUpdatedNotificationSchema,
  type CallToolResult,
} from '@modelcontextprotocol/sdk/types.js';
import { connectTestClient, eventually, Inbox } from '@atmosphere/runtime/testing';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { presenceUri } from '../src/index.ts';
import { type Fixture, gate, startFixture } from './helpers.ts';

let fixture: Fixture;

beforeAll(async () => {
  fixture = await startFixture();
});

afterAll(async () => {
  await fixture?.close();
});

type TransportKind = 'streamable-http' | 'websocket';

async function connect(kind: TransportKind): Promise<Client> {
  const client = new Client({ name: 'sdk-test', version: '1.0.0' });
  const transport =
    kind === 'websocket'
      ? new WebSocketClientTransport(new URL(fixture.wsUrl))
      : new StreamableHTTPClientTransport(new URL(fixture.url), {
          reconnectionOptions: {
            initialReconnectionDelay: 20,
            maxReconnectionDelay: 200,
            reconnectionDelayGrowFactor: 1.5,
            maxRetries: 10,
          },
        });
  await client.connect(transport);
  return client;
}

function contentText(contents: readonly ({ text: string } | { blob: string })[]): string {
  const first = contents[0];
  return first && 'text' in first ? first.text : '';
}

function text(result: unknown): string {
  const content = (result as CallToolResult).content[0];
  return content?.type === 'text' ? content.text : '';
}

describe.each(['streamable-http', 'websocket'] as const)('the SDK client over %s', (kind) => {
  test('lists and calls tools', async () => {
    const client = await connect(kind);
    try {
      const { tools } = await client.listTools();
      expect(tools.map((t) => t.name)).toEqual([
        'echo',
        'announce',
        'count',
        'seat',
        'unseat',
        'stream_answer',
        'room_answer',
      ]);
      expect(tools[0]?.inputSchema.properties).toHaveProperty('text');
      expect(text(await client.callTool({ name: 'echo', arguments: { text: 'hello' } }))).toBe('echo: hello');
      const invalid = await client.callTool({ name: 'echo', arguments: { text: 42 } });
      expect(invalid.isError).toBe(true);
    } finally {
      await client.close();
    }
  });

  test('a tool broadcast reaches an Atmosphere subscriber of the topic', async () => {
    const topic = `/news-${kind}`;
    fixture.atmosphere.managed(topic, {});
    const browser = await connectTestClient(fixture.atmosphere.url(topic), 'websocket');
    const client = await connect(kind);
    try {
      await client.callTool({ name: 'announce', arguments: { topic, message: `hello ${kind}` } });
      expect(await browser.messages.next()).toBe(`hello ${kind}`);
    } finally {
      await client.close();
      await browser.close();
    }
  });

  test('reads room presence and hears of a virtual member joining through a subscription', async () => {
    const room = `lobby-${kind}`;
    fixture.rooms.room(room);
    const client = await connect(kind);
    const updates = new Inbox<string>();
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => {
      updates.push(notification.params.uri);
    });
    try {
      const uri = presenceUri(room);
      const { resources } = await client.listResources();
      expect(resources.map((r) => r.uri)).toContain(uri);
      const before = await client.readResource({ uri });
      expect(JSON.parse(contentText(before.contents))).toEqual({ room, members: [] });
      await client.subscribeResource({ uri });
      await client.callTool({ name: 'seat', arguments: { room, member: 'bot' } });
      expect(await updates.next()).toBe(uri);
      const after = await client.readResource({ uri });
      expect(JSON.parse(contentText(after.contents))).toEqual({
        room,
        members: [{ id: 'bot', metadata: { name: 'bot' }, virtual: true }],
      });
      await client.unsubscribeResource({ uri });
      await client.callTool({ name: 'unseat', arguments: { room, member: 'bot' } });
      expect(fixture.rooms.room(room).size).toBe(0);
      // Unsubscribed: the leave sends no update (a ping proves the session is still answering).
      await client.ping();
      expect(updates.items).toEqual([uri]);
    } finally {
      await client.close();
    }
  });

  test('a virtual member seated by a session leaves when the session ends', async () => {
    const room = `ends-${kind}`;
    const client = await connect(kind);
    await client.callTool({ name: 'seat', arguments: { room, member: 'helper' } });
    expect(fixture.rooms.room(room).has('helper')).toBe(true);
    if (kind === 'streamable-http')
      await (client.transport as StreamableHTTPClientTransport).terminateSession();
    await client.close();
    await eventually(() => !fixture.rooms.room(room).has('helper'));
  });
});

test('a Streamable HTTP stream cut mid-call resumes from the stream log without losing a notification', async () => {
  const client = await connect('streamable-http');
  const notes = new Inbox<number>();
  const resumes: string[] = [];
  const observe = (request: IncomingMessage): void => {
    const lastEventId = request.headers['last-event-id'];
    if (typeof lastEventId === 'string') resumes.push(lastEventId);
  };
  fixture.atmosphere.server.on('request', observe);
  client.setNotificationHandler(LoggingMessageNotificationSchema, (notification) => {
    notes.push(notification.params.data as number);
  });
  try {
    const result = client.callTool({ name: 'count', arguments: { n: 8, pauseAfter: 3 } });
    expect(await notes.take(3)).toEqual([1, 2, 3]);
    // Cut every connection (the call's SSE stream with them) while the tool waits, then let it go on: the
    // notifications 4..8 and the result are sent while the client is away, into the stream log.
    expect(fixture.sockets.size).toBeGreaterThan(0);
    for (const socket of fixture.sockets) socket.destroy();
    gate.release();
    expect(text(await result)).toBe('counted to 8');
    expect(notes.items).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The client came back with the id of the last event it had (the third notification's).
    expect(resumes).toHaveLength(1);
    expect(resumes[0]).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f-]+\.4$/);
  } finally {
    fixture.atmosphere.server.off('request', observe);
    await client.close();
  }
});

test('the endpoint describes itself and the startup line names both endpoints', () => {
  const description = fixture.endpoint.describe();
  expect(description.streamableHttp).toBe(fixture.url);
  expect(description.websocket).toBe(fixture.wsUrl);
  expect(description.resumability).toEqual({ log: fixture.atmosphere.log.name, durable: false });
  expect(description.loopbackOnly).toBe(true);
});
