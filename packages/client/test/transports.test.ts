import type { Atmosphere as Server } from '@atmosphere/runtime';
import { eventually, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { Atmosphere, type Subscription } from '../src/index.ts';
import { closeServer, record, TRANSPORTS, ready } from './helpers.ts';

let server: Server | undefined;
let subscription: Subscription | undefined;
afterEach(async () => {
  await subscription?.close();
  subscription = undefined;
  await closeServer(server);
  server = undefined;
});

describe.each(TRANSPORTS)('%s', (transport) => {
  test('handshake, onReady write, broadcast and echo arrive in order; close fires onDisconnect once', async () => {
    server = await startTestAtmosphere();
    const disconnects: string[] = [];
    server.managed<{ text: string }>('/chat/{room}', {
      onReady(resource, { params }) {
        resource.write({ welcome: params['room'] });
      },
      onMessage(message) {
        return { echo: message.text };
      },
      onDisconnect(resource, reason) {
        disconnects.push(`${resource.id}:${reason}`);
      },
    });
    const client = new Atmosphere();
    subscription = client.subscribe({ url: server.url('/chat/lobby'), transport, fallbackTransport: [] });
    const recorder = record(subscription);
    await ready(subscription);
    expect(recorder.events.items[0]).toBe(`open:${transport}`);
    expect(subscription.trackingId).toMatch(/^[0-9a-f-]{36}$/);
    expect(subscription.transport).toBe(transport);
    expect(await recorder.messages.next()).toBe('{"welcome":"lobby"}');
    await server.broadcast('/chat/lobby', { n: 1 });
    expect(await recorder.messages.next()).toBe('{"n":1}');
    subscription.push({ text: 'hi' });
    subscription.push({ text: 'there' });
    expect(await recorder.messages.take(2)).toEqual(['{"echo":"hi"}', '{"echo":"there"}']);
    expect(subscription.received).toBe(4);
    const id = subscription.trackingId;
    await subscription.close();
    await eventually(() => disconnects.length > 0, 'onDisconnect');
    expect(disconnects).toEqual([`${id}:client-closed`]);
    expect(server.resource(id)).toBeUndefined();
    expect(subscription.state).toBe('closed');
    expect(() => subscription!.push('late')).toThrow(/closed/);
  });

  test('server heartbeats are dropped, not counted, and keep the connection alive', async () => {
    server = await startTestAtmosphere({ heartbeat: { intervalMs: 100 } });
    server.managed('/h', {});
    // The inactivity timeout is shorter than the test: only the heartbeats keep the connection alive.
    subscription = new Atmosphere().subscribe({
      url: server.url('/h'),
      transport,
      fallbackTransport: [],
      timeout: 400,
    });
    const recorder = record(subscription);
    await ready(subscription);
    const seen = new Set<number>();
    await eventually(() => {
      const at = subscription!.status().lastDataAt;
      if (at !== undefined) seen.add(at);
      return seen.size >= 6;
    }, 'six arrivals of heartbeat data');
    expect(recorder.messages.items).toEqual([]);
    expect(subscription.received).toBe(0);
    expect(subscription.state).toBe('connected');
    expect(recorder.events.count('clientTimeout')).toBe(0);
    expect(recorder.events.count('reopen')).toBe(0);
  });
});
