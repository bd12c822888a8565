import { describe, expect, test } from 'vitest';

/**
 * The public surface of @atmosphere/rooms, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/rooms public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'Room',
      'RoomManager',
      'clusterMessageKey',
      'createRooms',
      'roomBroadcasterId',
    ]);
  });
});
