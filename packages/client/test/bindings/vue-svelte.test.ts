import { eventually } from '@atmosphere/runtime/testing';
import { effectScope, nextTick } from 'vue';
import { afterEach, expect, test } from 'vitest';
import { Atmosphere } from '../../src/index.ts';
import { createAtmosphereStore, createPresenceStore, createStreamingStore } from '../../src/svelte/index.ts';
import { useAtmosphere, usePresence, useRoom, useStreaming } from '../../src/vue/index.ts';
import { type Fixture, startFixture } from '../fixtures/fixture-server.ts';

let fixture: Fixture | undefined;
afterEach(async () => {
  await fixture?.close();
  fixture = undefined;
});

const connected = (): number => fixture!.atmosphere.describe().resources.connected;

test('vue: composables in one scope share a connection, expose refs, and close when the scope stops', async () => {
  fixture = await startFixture();
  const scope = effectScope();
  const url = fixture.url('/ai');
  const { feed, ai } = scope.run(() => ({
    feed: useAtmosphere({ request: { url } }),
    ai: useStreaming({ request: { url } }),
  }))!;
  await eventually(() => ai.connectionState.value === 'connected', 'the connection');
  expect(connected()).toBe(1);
  ai.send('vue');
  await eventually(() => ai.stats.value !== null, 'the end of the stream');
  await nextTick();
  expect(ai.fullText.value).toBe('You said: vue');
  expect(ai.isStreaming.value).toBe(false);
  expect(ai.metadata.value['ai.model']).toBe('fixture-model');
  // The plain-message view of the same connection saw the raw frames.
  expect(feed.messages.value.length).toBeGreaterThan(5);
  expect(feed.state.value).toBe('connected');
  scope.stop();
  await eventually(() => connected() === 0, 'the connection to close');
  expect(ai.connectionState.value).toBe('disconnected');
});

test('vue: usePresence counts members', async () => {
  fixture = await startFixture();
  const url = fixture.url('/rooms');
  const scope = effectScope();
  const presence = scope.run(() => usePresence({ request: { url }, room: 'r', member: { id: 'v1' } }))!;
  // Same URL, same client: a second member would share the connection, and a connection is one member.
  const other = effectScope();
  const second = other.run(() => useRoom({ request: { url }, room: 'r', member: { id: 'v2' } }))!;
  await eventually(() => presence.joined.value, 'the join');
  expect(second.error.value?.message).toMatch(/already in room "r" as "v1"/);
  expect(presence.count.value).toBe(1);
  const bob = new Atmosphere().subscribe({ url });
  const { AtmosphereRooms } = await import('../../src/index.ts');
  AtmosphereRooms.for(bob).join('r', { id: 'bob' });
  await eventually(() => presence.count.value === 2, 'bob');
  expect(presence.isOnline('bob')).toBe(true);
  await bob.close();
  await eventually(() => presence.count.value === 1, 'bob to leave');
  other.stop();
  scope.stop();
});

test('svelte: stores connect on the first subscriber and disconnect after the last', async () => {
  fixture = await startFixture();
  const url = fixture.url('/ai');
  const client = new Atmosphere();
  const ai = createStreamingStore({ request: { url } }, client);
  const feed = createAtmosphereStore({ request: { url } }, client);
  expect(connected()).toBe(0);
  const texts: string[] = [];
  const stopAi = ai.subscribe((value) => texts.push(value.fullText));
  let state = '';
  const stopFeed = feed.store.subscribe((value) => (state = value.state));
  await eventually(() => state === 'connected', 'the connection');
  expect(connected()).toBe(1);
  ai.send('svelte');
  await eventually(() => texts.at(-1) === 'You said: svelte', 'the stream');
  expect(texts[0]).toBe('');
  stopAi();
  expect(connected()).toBe(1);
  stopFeed();
  await eventually(() => connected() === 0, 'the connection to close');
});

test('svelte: the presence store', async () => {
  fixture = await startFixture();
  const url = fixture.url('/rooms');
  const presence = createPresenceStore(
    { request: { url }, room: 'lobby', member: { id: 's1', metadata: { name: 'S' } } },
    new Atmosphere(),
  );
  let snapshot = { joined: false, count: 0, members: [] as readonly { id: string }[] };
  const stop = presence.subscribe((value) => (snapshot = value));
  await eventually(() => snapshot.joined, 'the join');
  expect(snapshot.count).toBe(1);
  expect(snapshot.members.map((m) => m.id)).toEqual(['s1']);
  stop();
  await eventually(() => fixture!.rooms.get('lobby')!.members.size === 0, 'the leave');
});
