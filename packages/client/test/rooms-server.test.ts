import { demoRuntime } from '@atmosphere/ai';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms, RoomManager } from '@atmosphere/rooms';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import {
  Atmosphere,
  type AtmosphereClientError,
  AtmosphereRooms,
  type RoomErrorAbout,
  RoomModel,
  type Subscription,
} from '../src/index.ts';

let server: Server | undefined;
const subscriptions: Subscription[] = [];
afterEach(async () => {
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  await server?.close();
  server = undefined;
});

async function startRooms(): Promise<string> {
  server = await startTestAtmosphere();
  const rooms = createRooms(server, { path: '/rooms', history: 50, autoCreate: false });
  rooms.room('lobby').joinVirtual(
    llmRoomMember({
      id: 'assistant',
      metadata: { name: 'Assistant' },
      runtime: demoRuntime({ delayMs: 1, answer: () => 'Rooms stream to everyone.' }),
      answers: 'default',
    }),
  );
  return server.url('/rooms');
}

function connect(url: string, transport: 'websocket' | 'sse' | 'long-polling'): Subscription {
  const subscription = new Atmosphere().subscribe({ url, transport, fallbackTransport: [] });
  subscriptions.push(subscription);
  return subscription;
}

test('against the real rooms server: AI frames reach every member once, in order, then the final message', async () => {
  const url = await startRooms();
  const logs = { alice: new Inbox<string>(), bob: new Inbox<string>() };
  const handles = (['alice', 'bob'] as const).map((id, i) =>
    AtmosphereRooms.for(connect(url, i === 0 ? 'websocket' : 'sse')).join<{
      text?: string;
      sessionId?: string;
    }>(
      'lobby',
      { id },
      {
        joined: (members) =>
          logs[id].push(
            `joined:${members
              .map((m) => m.id)
              .sort()
              .join(',')}`,
          ),
        ai: (from, frame) =>
          logs[id].push(
            `ai:${from}:${frame.seq}:${frame.type ?? frame.event}${frame.type === 'streaming-text' ? `:${String(frame.data)}` : ''}`,
          ),
        message: (message) => logs[id].push(`message:${message.id}:${message.from}:${message.data.text}`),
      },
    ),
  );
  expect(await logs.alice.next()).toBe('joined:alice,assistant');
  await logs.bob.waitFor((line) => line.startsWith('joined:'));
  handles[0]!.broadcast({ text: 'How do rooms work?' });
  const final = await logs.bob.waitFor((line) => line.startsWith('message:') && line.includes(':assistant:'));
  await logs.alice.waitFor((line) => line === final);
  const aiOf = (inbox: Inbox<string>) => inbox.items.filter((line) => line.startsWith('ai:'));
  expect(aiOf(logs.alice)).toEqual(aiOf(logs.bob));
  const tokens = aiOf(logs.bob)
    .filter((line) => line.includes(':streaming-text:'))
    .map((line) => line.split(':').slice(4).join(':'))
    .join('');
  expect(tokens).toBe('Rooms stream to everyone.');
  expect(final).toBe('message:2:assistant:Rooms stream to everyone.');
  const seqs = aiOf(logs.bob).map((line) => Number(line.split(':')[2]));
  expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
  expect(new Set(seqs).size).toBe(seqs.length);
});

test('a late joiner asking for history gets the conversation; the room model shows streams until their final message', async () => {
  const url = await startRooms();
  const first = AtmosphereRooms.for(connect(url, 'websocket')).join<{ text: string }>('lobby', {
    id: 'alice',
  });
  await eventually(() => first.joined, 'alice to join');
  first.broadcast({ text: 'Hello?' });
  const model = new RoomModel<{ text?: string }>({
    request: { url, transport: 'long-polling', fallbackTransport: [] },
    room: 'lobby',
    member: { id: 'carol' },
    history: true,
    atmosphere: new Atmosphere(),
  });
  const sawStream = new Inbox<string>();
  model.subscribe(() => {
    for (const stream of model.getSnapshot().streams) sawStream.push(stream.text);
  });
  model.connect();
  await eventually(
    () => model.getSnapshot().messages.some((m) => m.from === 'assistant'),
    'the history (question and answer) to arrive',
  );
  const snapshot = model.getSnapshot();
  expect(snapshot.messages.map((m) => `${m.from}:${m.data.text}`)).toEqual([
    'alice:Hello?',
    'assistant:Rooms stream to everyone.',
  ]);
  expect(snapshot.streams).toEqual([]);
  // A new question streams live to carol as well, and the stream leaves `streams` when the message lands.
  first.broadcast({ text: 'Again?' });
  await sawStream.waitFor((text) => text.length > 0);
  await eventually(() => model.getSnapshot().messages.length === 4, 'the second answer');
  expect(model.getSnapshot().streams).toEqual([]);
  model.disconnect();
});

test('a later join on the same connection that asks for history gets it', async () => {
  const url = await startRooms();
  const first = AtmosphereRooms.for(connect(url, 'websocket')).join<{ text: string }>('lobby', {
    id: 'alice',
  });
  await eventually(() => first.joined, 'alice to join');
  first.broadcast({ text: 'before' });
  const subscription = connect(url, 'sse');
  const withoutHistory = AtmosphereRooms.for(subscription).join('lobby', { id: 'bob' });
  await eventually(() => withoutHistory.joined, 'bob to join');
  const seen = new Inbox<string>();
  AtmosphereRooms.for(subscription).join<{ text?: string }>(
    'lobby',
    { id: 'bob' },
    { message: (message) => seen.push(`${message.from}:${message.data.text}`) },
    { history: true },
  );
  expect(await seen.waitFor((line) => line === 'alice:before')).toBe('alice:before');
  expect(seen.items.filter((line) => line === 'alice:before')).toHaveLength(1);
});

test("an answer whose reply the server could not say ends its stream in the room model with the server's error, not with a message", async () => {
  const url = await startRooms();
  const lobby = RoomManager.for(server!).room('lobby');
  server!.broadcasters.get(lobby.broadcasterId).addFilter({
    name: 'refuses-replies',
    filter: (payload) => {
      if (
        typeof payload === 'string' &&
        payload.startsWith('{"type":"message"') &&
        payload.includes('"from":"assistant"')
      )
        throw new Error('refused by the test filter');
      return payload;
    },
  });
  const model = new RoomModel<{ text?: string }>({
    request: { url, transport: 'websocket', fallbackTransport: [] },
    room: 'lobby',
    member: { id: 'carol' },
    atmosphere: new Atmosphere(),
  });
  model.connect();
  await eventually(() => model.getSnapshot().joined, 'carol to join');
  model.broadcast({ text: 'Hello?' });
  await eventually(
    () => model.getSnapshot().streams.some((stream) => stream.error !== undefined),
    'the answer to end with the error',
  );
  const snapshot = model.getSnapshot();
  expect(snapshot.streams).toEqual([
    {
      sessionId: snapshot.streams[0]!.sessionId,
      from: 'assistant',
      text: 'Rooms stream to everyone.',
      done: true,
      stopped: false,
      error:
        'Room "lobby": The answer of assistant to carol could not be said as a room message (FILTER_FAILED); ask again.',
    },
  ]);
  expect(snapshot.error).toMatchObject({ code: 'SERVER_ERROR', serverCode: 'FILTER_FAILED' });
  expect(snapshot.messages.map((m) => m.from)).toEqual([]);
  model.disconnect();
});

test('a history replay that leaves messages out is said to the join with the ids it leaves out', async () => {
  const url = await startRooms();
  const lobby = RoomManager.for(server!).room('lobby');
  for (let n = 1; n <= 60; n++) await lobby.broadcast({ text: `m${n}` });
  const errors = new Inbox<[AtmosphereClientError, RoomErrorAbout]>();
  const messages = new Inbox<number>();
  AtmosphereRooms.for(connect(url, 'sse')).join<{ text: string }>(
    'lobby',
    { id: 'dave' },
    {
      error: (error, about) => errors.push([error, about]),
      message: (message) => messages.push(message.id ?? -1),
    },
    { history: true },
  );
  const [error, about] = await errors.next();
  expect(error.serverCode).toBe('HISTORY_TRUNCATED');
  expect(about).toEqual({ memberId: undefined, sessionId: undefined, from: 1, resumeAt: 11 });
  await messages.waitFor((id) => id === 60);
  expect(messages.items).toEqual(Array.from({ length: 50 }, (_, i) => i + 11));
});
