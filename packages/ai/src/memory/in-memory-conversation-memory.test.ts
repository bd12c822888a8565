import { describe, expect, test } from 'vitest';
import { InMemoryConversationMemory } from './in-memory-conversation-memory.ts';
import { conversationMemoryContract } from '../testing/conversation-memory-contract.ts';

describe('InMemoryConversationMemory', () => {
  test('keeps the last maxMessages per conversation, oldest first', async () => {
    const memory = new InMemoryConversationMemory({ maxMessages: 4 });
    for (let i = 1; i <= 3; i++) {
      await memory.append('c1', [
        { role: 'user', content: `q${i}` },
        { role: 'assistant', content: `a${i}` },
      ]);
    }
    expect((await memory.history('c1')).map((m) => m.content)).toEqual(['q2', 'a2', 'q3', 'a3']);
    expect((await memory.history('c1', { limit: 2 })).map((m) => m.content)).toEqual(['q3', 'a3']);
    expect(await memory.history('other')).toEqual([]);
  });

  test('defaults to 20 messages and conversations are separate', async () => {
    const memory = new InMemoryConversationMemory();
    for (let i = 0; i < 30; i++) await memory.append('a', [{ role: 'user', content: String(i) }]);
    await memory.append('b', [{ role: 'user', content: 'b' }]);
    const history = await memory.history('a');
    expect(history).toHaveLength(20);
    expect(history[0]!.content).toBe('10');
    expect((await memory.history('b')).map((m) => m.content)).toEqual(['b']);
    await memory.clear('a');
    expect(await memory.history('a')).toEqual([]);
  });

  test('drops the least recently used conversation past maxConversations', async () => {
    const memory = new InMemoryConversationMemory({ maxConversations: 2 });
    await memory.append('a', [{ role: 'user', content: 'a' }]);
    await memory.append('b', [{ role: 'user', content: 'b' }]);
    await memory.history('a');
    await memory.append('c', [{ role: 'user', content: 'c' }]);
    expect(memory.size).toBe(2);
    expect(await memory.history('b')).toEqual([]);
    expect(await memory.history('a')).toHaveLength(1);
  });
});

conversationMemoryContract('InMemoryConversationMemory', {
  create: () => new InMemoryConversationMemory({ maxMessages: 8 }),
  maxMessages: 8,
});
