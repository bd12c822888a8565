import '@atmosphere/ai/register';
import { llmRoomMember } from '@atmosphere/ai/rooms';
import { createRooms } from '@atmosphere/rooms';
import { connectTestClient, startTestAtmosphere } from '@atmosphere/runtime/testing';
import { FakeListChatModel } from '@langchain/core/utils/testing';
import { expect, test } from 'vitest';
import { langChain } from '../src/index.ts';

type Frame = { readonly type?: string; readonly [key: string]: unknown };

test('an AI room member answers through the selected LangChain runtime (one selection path with endpoints)', async () => {
  const answer = 'The LangChain model answers the room.';
  const atmosphere = await startTestAtmosphere({
    env: {},
    providers: [langChain({ model: new FakeListChatModel({ responses: [answer] }) })],
  });
  const rooms = createRooms(atmosphere, { path: '/rooms', history: 10 });
  rooms.room('lobby').joinVirtual(llmRoomMember({ id: 'assistant' }));
  const client = await connectTestClient(atmosphere.url('/rooms'), 'websocket');
  const next = async (predicate: (frame: Frame) => boolean): Promise<Frame> =>
    JSON.parse(await client.messages.waitFor((text) => predicate(JSON.parse(text) as Frame))) as Frame;
  try {
    await client.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'ada' }));
    await next((f) => f.type === 'join_ack');
    await client.send(
      JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: '@assistant hello' } }),
    );
    const said = await next((f) => f.type === 'message' && f['from'] === 'assistant');
    expect((said['data'] as { text: string }).text).toBe(answer);
    const streamed = client.messages.items
      .map((text) => JSON.parse(text) as Frame)
      .filter((f) => f.type === 'streaming-text' && f['from'] === 'assistant');
    expect(streamed.length).toBeGreaterThan(1);
    expect(streamed.map((f) => f['data']).join('')).toBe(answer);
  } finally {
    await client.close();
    rooms.close();
    await atmosphere.close();
  }
});
