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

/** The frames a client received so far, parsed. */
function seen(client: TestClient): Frame[] {
  return client.messages.items.map((m) => JSON.parse(m) as Frame);
}

/**
 * The sample's self-check, over real connections: two people join the lobby (WebSocket and SSE) and see each
 * other; a name already in the room is refused and the server offers a free one; they talk without the AI
 * answering; one asks the room a question and both see the assistant's answer stream token by token and end as
 * a message; the poet answers its mention; a late joiner (long-polling) gets the conversation from history.
 * Throws on the first thing that is wrong.
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

    const offered = (await (await fetch(new URL('api/rooms/lobby/name?wanted=Alice', chat.url))).json()) as {
      name?: string;
    };
    assert(offered.name === 'Alice-2', `a taken name gets a numbered variant (got ${offered.name})`);
    const impostor = await connectTestClient(url, 'websocket');
    try {
      await impostor.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'alice' }));
      const refused = await frames(impostor).next((f) => f.type === 'error' || f.type === 'join_ack');
      assert(refused.type === 'error', 'a second person cannot join under a name in use');
    } finally {
      await impostor.close();
    }
    done.push('a name in use is refused; the server offers a free one');

    await bob.send(JSON.stringify({ type: 'typing', room: 'lobby', typing: true }));
    await a.next((f) => f.type === 'typing' && f.memberId === 'bob' && f.typing === true);
    await bob.send(JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: 'Hello @alice' } }));
    await a.next((f) => f.type === 'message' && f.from === 'bob');
    await alice.send(
      JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: 'Hi Bob, nice to meet you' } }),
    );
    await b.next((f) => f.type === 'message' && f.from === 'alice');
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
    done.push('the assistant streams its answer to a question to everyone, then it becomes a message');

    await bob.send(
      JSON.stringify({ type: 'broadcast', room: 'lobby', data: { text: '@poet sing of rooms and wires' } }),
    );
    const poem = await a.next((f) => f.type === 'message' && f.from === 'poet');
    const answered = seen(alice)
      .filter((f) => f.type === 'message' && (f.from === 'assistant' || f.from === 'poet'))
      .map((f) => `${f.from} → ${(f.data as { replyTo?: { from?: string } }).replyTo?.from}`);
    assert(
      answered.join(', ') === 'assistant → alice, poet → bob',
      `only the question and the mention are answered (got ${answered.join(', ')})`,
    );
    assert(
      /rooms/i.test((poem.data as { text?: string }).text ?? ''),
      'the poet answers in verse from the words of the mention',
    );
    done.push('people talk without the AI answering; the poet answers its mention');

    const carol = await connectTestClient(url, 'long-polling');
    try {
      const c = frames(carol);
      await carol.send(JSON.stringify({ type: 'join', room: 'lobby', memberId: 'carol', sinceId: 0 }));
      await c.next((f) => f.type === 'join_ack');
      await c.next((f) => f.type === 'message' && f.from === 'alice');
      await c.next((f) => f.type === 'message' && f.from === 'assistant');
      await c.next((f) => f.type === 'message' && f.from === 'poet');
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
