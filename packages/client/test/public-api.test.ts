import { describe, expect, expectTypeOf, test } from 'vitest';
import type { ChatEntry, ClientTransportName } from '../src/index.ts';

/**
 * The public surface of @atmosphere/client, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/client public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'Atmosphere',
      'AtmosphereClientError',
      'AtmosphereMessage',
      'AtmosphereRooms',
      'CLIENT_TRANSPORTS',
      'ChatModel',
      'ConnectionModel',
      'REQUEST_DEFAULTS',
      'RoomModel',
      'Store',
      'StreamingModel',
      'Subscription',
      'atmosphere',
      'presenceOf',
      'subscribe',
      'subscribeStreaming',
    ]);
  });

  test('/react exports exactly these values', async () => {
    expect(Object.keys(await import('../src/react/index.ts')).sort()).toEqual([
      'AtmosphereProvider',
      'useAtmosphere',
      'useAtmosphereClient',
      'useChat',
      'usePresence',
      'useRoom',
      'useStreaming',
    ]);
  });

  test('/vue exports exactly these values', async () => {
    expect(Object.keys(await import('../src/vue/index.ts')).sort()).toEqual([
      'AtmosphereProvider',
      'provideAtmosphere',
      'refsOf',
      'useAtmosphere',
      'useAtmosphereClient',
      'useChat',
      'useModel',
      'usePresence',
      'useRoom',
      'useStreaming',
    ]);
  });

  test('/svelte exports exactly these values', async () => {
    expect(Object.keys(await import('../src/svelte/index.ts')).sort()).toEqual([
      'createAtmosphereStore',
      'createChatStore',
      'createPresenceStore',
      'createRoomStore',
      'createStreamingStore',
      'getAtmosphereContext',
      'setAtmosphereContext',
    ]);
  });

  test('the types applications hold', () => {
    expectTypeOf<ClientTransportName>().toEqualTypeOf<'websocket' | 'sse' | 'streaming' | 'long-polling'>();
    expectTypeOf<ChatEntry>().toHaveProperty('status');
  });
});
