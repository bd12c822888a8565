import { afterAll, beforeAll, expect, expectTypeOf, test } from 'vitest';
import {
  type Atmosphere,
  type AtmosphereResource,
  Disconnect,
  ManagedService,
  Message,
  Ready,
} from '../src/index.ts';
import { connectTestClient, eventually, startTestAtmosphere } from '../src/testing/index.ts';

@ManagedService('/decorated/{room}')
class ChatService {
  readonly seen: string[] = [];
  left = 0;

  @Ready()
  onReady(resource: AtmosphereResource): void {
    resource.write({ joined: resource.params['room'] });
  }

  @Message()
  onMessage(message: { text: string }): unknown {
    this.seen.push(message.text);
    return { text: message.text.toUpperCase() };
  }

  @Disconnect()
  onDisconnect(): void {
    this.left++;
  }
}

let atmosphere: Atmosphere;
beforeAll(async () => {
  atmosphere = await startTestAtmosphere();
});
afterAll(async () => {
  await atmosphere.close();
});

test('standard decorators are sugar over managed(): ready, message (return value broadcast), disconnect', async () => {
  const service = new ChatService();
  const registration = atmosphere.register(service);
  expect(registration.path).toBe('/decorated/{room}');
  const client = await connectTestClient(atmosphere.url('/decorated/blue'), 'websocket');
  expect(await client.messages.next()).toBe('{"joined":"blue"}');
  await client.send('{"text":"hi"}');
  expect(await client.messages.next()).toBe('{"text":"HI"}');
  expect(service.seen).toEqual(['hi']);
  await client.close();
  await eventually(() => service.left === 1, 'onDisconnect');
});

test('register() refuses an undecorated object with a clear error', () => {
  expect(() => atmosphere.register({})).toThrow(/decorated with @ManagedService/);
});

test('handlers are typed against the AtmosphereResource interface, which the resources they get satisfy', async () => {
  const client = await connectTestClient(atmosphere.url('/decorated/typed'), 'websocket');
  const resource = atmosphere.resource(client.trackingId);
  expectTypeOf(resource).toEqualTypeOf<AtmosphereResource | undefined>();
  expect(resource?.id).toBe(client.trackingId);
  expect(typeof resource?.write).toBe('function');
  await client.close();
});
