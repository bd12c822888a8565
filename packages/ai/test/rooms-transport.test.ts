import { connectTestClient, eventually } from '@atmosphere/runtime/testing';
import { afterEach, describe, expect, test } from 'vitest';
import { llmRoomMember } from '../src/rooms/index.ts';
import { sseStep, transcriptText } from './fixtures.ts';
import {
  type Frame,
  framesOf,
  RoomClient,
  type RoomsHarness,
  roomsHarness,
  streamedText,
} from './rooms-helpers.ts';

let h: RoomsHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const FULL = transcriptText('openai-text.sse');
const isToken = (f: Frame): boolean => f.type === 'streaming-text' && f['from'] === 'assistant';

describe("AI frames ride the room's broadcaster", () => {
  test("the room broadcaster's (asynchronous) filters see every token, in order", async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse')] });
    const lobby = h.rooms.room('lobby');
    h.atmosphere.broadcasters.get(lobby.broadcasterId).addFilter({
      name: 'product-name',
      async filter(payload) {
        await new Promise((resolve) => setImmediate(resolve));
        return typeof payload === 'string' ? payload.replaceAll('Atmosphere', 'A*') : payload;
      },
    });
    lobby.joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime() }));
    const alice = await h.member('alice', 'lobby');
    await alice.say('lobby', '@assistant hi');
    const message = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    const data = message['data'] as { text: string; sessionId: string };
    const expected = FULL.replaceAll('Atmosphere', 'A*');
    expect(data.text).toBe(expected);
    const frames = framesOf(alice.frames(), 'assistant').filter((f) => f['sessionId'] === data.sessionId);
    expect(frames.map((f) => f['seq'])).toEqual(frames.map((_, i) => i + 1));
    expect(streamedText(frames, data.sessionId)).toBe(expected);
    // The filter changed the wire, not what the member said.
    expect((lobby.history()[1]!.data as { text: string }).text).toBe(FULL);
  });

  test('a member cut mid-answer reconnects with its tracking id and gets the rest of the stream: nothing lost, nothing twice', async () => {
    h = await roomsHarness({ steps: [sseStep('openai-text.sse', { pauseAfter: 6 })] });
    const lobby = h.rooms.room('lobby');
    lobby.joinVirtual(llmRoomMember({ id: 'assistant', runtime: h.runtime() }));
    const alice = await h.member('alice', 'lobby');
    const bob = await h.member('bob', 'lobby', 'sse');
    await alice.say('lobby', '@assistant tell me');
    await eventually(() => bob.frames().filter(isToken).length === 5, 'five tokens for bob');
    bob.client.cut();
    await eventually(
      () => h!.atmosphere.resource(bob.client.trackingId)?.state === 'away',
      'the server to see the cut',
    );
    h.replay.release();
    // The answer ends while bob is away.
    const said = await alice.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
    const again = new RoomClient(
      await connectTestClient(h.atmosphere.url('/rooms'), 'sse', {
        trackingId: bob.client.trackingId,
        received: bob.client.received,
      }),
      'bob',
    );
    try {
      await again.waitFor((f) => f.type === 'message' && f['from'] === 'assistant');
      const bobs = framesOf([...bob.frames(), ...again.frames()], 'assistant');
      expect(bobs).toEqual(framesOf(alice.frames(), 'assistant'));
      expect(bobs.at(-1)).toEqual(said);
      expect(streamedText(bobs, (said['data'] as { sessionId: string }).sessionId)).toBe(FULL);
    } finally {
      await again.close();
    }
  });
});
