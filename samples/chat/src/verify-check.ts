import { connectTestClient, type TestClient } from '@atmosphere/runtime/testing';
import type { Chat } from './server.ts';

interface Frame {
  type?: string;
  room?: string;
  from?: string;
  id?: number;
  data?: unknown;
  sessionId?: string;
  members?: { id: string }[];
  action?: string;
  memberId?: string;
  typing?: boolean;
}

function frames(client: TestClient): { next: (predicate: (f: Frame) => boolean) => Promise<Frame> } {
  return {
    next: async (predicate) =>
      JSON.parse(await client.messages.waitFor((m) => predicate(JSON.parse(m) as Frame), 15_000)) as Frame,
  };
}

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`verify: ${message}`);
}

/**
 * The sample's self-check, over real connections: two people join the lobby (WebSocket and SSE) and see each
 * other; one asks a question; both see the assistant's answer stream token by token and end as a message; a
 * late joiner (long-polling) gets the conversation from history. Throws on the first thing that is wrong.
 */
export async function verifyChat(chat: Chat): Promise<string[]> {
  const done: string[] = [];
  const url = new URL('rooms', chat.url).toString();
  const alice = await connectTestClient(url, 'websocket');
  const bob = await connectTestClient(url, 'sse');
  const a = frames(alice);
  const b = frames(bob);
  try {
    await alice.send(
      JSON.stringify({ type: 'join', room: 'lobby', memberId: 'alice', metadata: { name: 'Alice' } }),
    );
    const ack = await a.next((f) => f.type === 'join_ack');
    assert(
      ack.members?.some((m) => m.id === 'assistant'),
      'the lobby lists its assistant',
    );
    await bob.send(
      JSON.stringify({ type: 'join', room: 'lobby', memberId: 'bob', metadata: { name: 'Bob' } }),
    );
    await b.next((f) => f.type === 'join_ack');
    await a.next((f) => f.type === 'presence' && f.action === 'join' && f.memberId === 'bob');
    done.push('two people join the lobby and see each other');

    await bob.send(JSON.stringify({ type: 'typing', room: 'lobby', typing: true }));
    await a.next((f) => f.type === 'typing' && f.memberId === 'bob' && f.typing === true);
    await bob.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: 'Hello @alice' } }));
    await a.next((f) => f.type === 'message' && f.from === 'bob');
    done.push('typing and messages reach the other person');

    await alice.send(
      JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: 'What can Atmosphere do?' } }),
    );
    for (const [name, client] of [
      ['alice', a],
      ['bob', b],
    ] as const) {
      const token = await client.next((f) => f.from === 'assistant' && f.type === 'streaming-text');
      const complete = await client.next(
        (f) => f.from === 'assistant' && f.type === 'complete' && f.sessionId === token.sessionId,
      );
      const reply = await client.next((f) => f.type === 'message' && f.from === 'assistant');
      assert(
        (reply.data as { sessionId?: string }).sessionId === complete.sessionId,
        `${name}: the final message closes the stream`,
      );
    }
    done.push('the assistant streams its answer to everyone, then it becomes a message');

    const carol = await connectTestClient(url, 'long-polling');
    try {
      const c = frames(carol);
      await carol.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'carol', sinceId: 0 }));
      await c.next((f) => f.type === 'join_ack');
      await c.next((f) => f.type === 'message' && f.from === 'alice');
      await c.next((f) => f.type === 'message' && f.from === 'assistant');
      done.push('a late joiner gets the conversation from history');
    } finally {
      await carol.close();
    }
  } finally {
    await alice.close();
    await bob.close();
  }
  return done;
}
