import { demoRuntime } from '@atmosphere/ai';
import { llmRoomMember, type RoomAnswer } from '@atmosphere/ai/rooms';
import { createRooms } from '@atmosphere/rooms';
import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, Inbox, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, expect, test } from 'vitest';
import {
  Atmosphere,
  AtmosphereRooms,
  type AtmosphereClientError,
  RoomModel,
  type Subscription,
} from '../src/index.ts';

let server: Server | undefined;
const subscriptions: Subscription[] = [];
let release: (() => void) | undefined;
afterEach(async () => {
  release?.();
  for (const subscription of subscriptions.splice(0)) await subscription.close();
  await server?.close();
  server = undefined;
});

/** A room whose assistant streams one chunk, then holds its answer open until stopped (or the test ends). */
async function startRooms(answers: Inbox<RoomAnswer>): Promise<string> {
  server = await startTestAtmosphere();
  const rooms = createRooms(server, { path: '/rooms', history: 50, autoCreate: false });
  const held = new Promise<void>((resolve) => (release = resolve));
  rooms.room('lobby').joinVirtual(
    llmRoomMember({
      id: 'assistant',
      runtime: demoRuntime({
        delayMs: 0,
        answer: async function* () {
          yield 'The partial answer';
          await held;
          yield ' and the rest.';
        },
      }),
      answers: 'default',
      role: ({ member }) => (member.id.startsWith('guest-') ? 'viewer' : 'owner'),
      onAnswer: (answer) => answers.push(answer),
    }),
  );
  return server.url('/rooms');
}

function connect(url: string, transport: 'websocket' | 'sse' | 'long-polling'): Subscription {
  const subscription = new Atmosphere().subscribe({ url, transport, fallbackTransport: [] });
  subscriptions.push(subscription);
  return subscription;
}

test('the room model knows its roles, a viewer handle cannot stop the answer, the owner stops it; steer is acknowledged', async () => {
  const answers = new Inbox<RoomAnswer>();
  const url = await startRooms(answers);
  const model = new RoomModel<{ text?: string }>({
    request: { url, transport: 'websocket', fallbackTransport: [] },
    room: 'lobby',
    member: { id: 'alice' },
    atmosphere: new Atmosphere(),
  });
  const stopped = new Inbox<string>();
  model.subscribe(() => {
    for (const stream of model.getSnapshot().streams) if (stream.stopped) stopped.push(stream.text);
  });
  model.connect();
  const errors = new Inbox<AtmosphereClientError>();
  const steers = new Inbox<unknown>();
  const guest = AtmosphereRooms.for(connect(url, 'long-polling')).join(
    'lobby',
    { id: 'guest-1' },
    {
      error: (error) => errors.push(error),
      ai: (_from, frame) => {
        if (frame.event === 'steer') steers.push(frame.data);
      },
    },
  );
  await eventually(() => model.getSnapshot().roles['assistant'] === 'owner', 'alice to learn her role');
  await eventually(() => guest.roles.get('assistant') === 'viewer', 'the guest to learn its role');
  expect(model.getSnapshot().roles).toEqual({ assistant: 'owner' });
  expect([...guest.roles]).toEqual([['assistant', 'viewer']]);

  model.broadcast({ text: 'Tell me everything.' });
  await eventually(
    () => model.getSnapshot().streams.some((s) => s.text === 'The partial answer'),
    'the first chunk',
  );
  const sessionId = model.getSnapshot().streams[0]!.sessionId;
  // The viewer's stop and steer are refused; the answer goes on.
  guest.stop('assistant', sessionId);
  expect((await errors.next()).message).toBe(
    `Room "lobby": This connection's role (viewer) may not stop the answers of assistant in room lobby.`,
  );
  guest.steer('assistant', 'Be brief.');
  expect((await errors.next()).message).toContain('may not steer');
  expect(model.getSnapshot().streams[0]).toMatchObject({ done: false, stopped: false });
  // The owner's steer is acknowledged to the whole room, with the id the handle returned.
  const steerId = model.steer('assistant', 'Be brief.', sessionId);
  expect(await steers.next()).toEqual({ steerId, status: 'accepted', text: 'alice: Be brief.' });
  // The owner stops it: the stream ends stopped, and the text so far is said.
  model.stop('assistant', sessionId);
  expect(await stopped.next()).toBe('The partial answer');
  // The stand-in model notices the abort at its next chunk (a real one is aborted upstream: see the server's tests).
  release?.();
  const answer = await answers.next();
  expect([answer.status, answer.text]).toEqual(['stopped', 'The partial answer']);
  await eventually(
    () => model.getSnapshot().messages.some((m) => m.from === 'assistant'),
    'the partial answer to be said',
  );
  expect(model.getSnapshot().messages.at(-1)?.data).toMatchObject({ text: 'The partial answer', sessionId });
  expect(errors.items).toHaveLength(2);
  model.disconnect();
});
