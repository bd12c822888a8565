import { InMemoryConversationMemory } from '@atmosphere/ai';
import { conversationMemoryContract } from '@atmosphere/ai/testing';
import type { ChatMessage, ConversationMemory } from '@atmosphere/ai/spi';
import { AtmosphereError } from '@atmosphere/runtime';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RedisConversationMemory } from '../src/memory/redis-conversation-memory.ts';
import { SqliteConversationMemory } from '../src/memory/sqlite-conversation-memory.ts';
import { closeRedis, connectRedis, loadIoredis } from '../src/redis/connection.ts';
import { loadBetterSqlite3, openSqliteFile } from '../src/sqlite/database.ts';
import { newFile, tempFolder } from './helpers.ts';
import { startTestRedis, type TestRedis } from '@atmosphere/runtime/testing';

const folder = tempFolder('conversations');
const Database = await loadBetterSqlite3();
const Redis = await loadIoredis();
let redis: TestRedis;
beforeAll(async () => {
  redis = await startTestRedis();
});
afterAll(async () => {
  await redis?.stop();
});

const user = (content: string): ChatMessage => ({ role: 'user', content });

interface Stores {
  create(maxMessages?: number): Promise<ConversationMemory>;
  reopen?(memory: ConversationMemory): Promise<ConversationMemory>;
}

function conversationMemorySuite(name: string, stores: Stores): void {
  describe(`${name} conversation memory`, () => {
    test('keeps order and content exactly, the last maxMessages, with a limit', async () => {
      const memory = await stores.create(5);
      const assistant: ChatMessage = {
        role: 'assistant',
        content: 'é ✓ 𝄞 "q"',
        toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city":"Montréal"}' }],
      };
      await memory.append('c', [user('1'), assistant]);
      await memory.append('c', [{ role: 'tool', content: '{"t":3}', toolCallId: 'c1' }]);
      expect(await memory.history('c')).toEqual([
        user('1'),
        assistant,
        { role: 'tool', content: '{"t":3}', toolCallId: 'c1' },
      ]);
      await memory.append('c', [user('4'), user('5'), user('6'), user('7')]);
      expect((await memory.history('c')).map((m) => m.content)).toEqual(['{"t":3}', '4', '5', '6', '7']);
      expect((await memory.history('c', { limit: 2 })).map((m) => m.content)).toEqual(['6', '7']);
      expect(await memory.history('other')).toEqual([]);
      await memory.clear('c');
      expect(await memory.history('c')).toEqual([]);
      await memory.close?.();
    });

    if (stores.reopen) {
      const reopen = stores.reopen;
      test('survives a restart', async () => {
        const memory = await stores.create();
        await memory.append('kept', [user('hello'), { role: 'assistant', content: 'hi there' }]);
        const reopened = await reopen(memory);
        expect(await reopened.history('kept')).toEqual([
          user('hello'),
          { role: 'assistant', content: 'hi there' },
        ]);
        await reopened.close?.();
      });

      test('refuses a message over maxMessageBytes and stores nothing of it', async () => {
        const memory = await stores.create();
        let failure: unknown;
        try {
          await memory.append('big', [user('ok'), user('x'.repeat(2 * 1024 * 1024))]);
        } catch (error) {
          failure = error;
        }
        expect(AtmosphereError.isInstance(failure) && failure.code).toBe('MESSAGE_TOO_LARGE');
        expect(await memory.history('big')).toEqual([]);
        await memory.close?.();
      });
    }
  });
}

conversationMemorySuite('in-memory (reference)', {
  create: async (maxMessages) => new InMemoryConversationMemory(maxMessages ? { maxMessages } : {}),
});

const files = new WeakMap<object, string>();
function openSqlite(file: string, maxMessages?: number): SqliteConversationMemory {
  const memory = new SqliteConversationMemory(openSqliteFile(Database, file, 'conversation memory', 't'), {
    ownsDatabase: true,
    limits: maxMessages ? { maxMessages } : {},
  });
  files.set(memory, file);
  return memory;
}
conversationMemorySuite('sqlite', {
  create: async (maxMessages) => openSqlite(newFile(folder, 'conversations'), maxMessages),
  async reopen(memory) {
    await memory.close?.();
    return openSqlite(files.get(memory)!);
  },
});

let prefixCounter = 0;
const prefixes = new WeakMap<object, string>();
async function openRedis(prefix: string, maxMessages?: number): Promise<RedisConversationMemory> {
  const connection = await connectRedis(Redis, redis.url, {
    source: 't',
    purpose: 'memory',
    timeoutMs: 5_000,
  });
  const memory = new RedisConversationMemory(connection, {
    prefix,
    limits: maxMessages ? { maxMessages } : {},
    onClose: () => closeRedis(connection),
  });
  prefixes.set(memory, prefix);
  return memory;
}
conversationMemorySuite('redis', {
  create: (maxMessages) => openRedis(`memory${++prefixCounter}:`, maxMessages),
  async reopen(memory) {
    await memory.close?.();
    return openRedis(prefixes.get(memory)!);
  },
});

// The SPI's contract suite from @atmosphere/ai/testing, on the real stores.
conversationMemoryContract('sqlite', {
  create: () => openSqlite(newFile(folder, 'contract'), 8),
  async reopen(memory) {
    await memory.close?.();
    return openSqlite(files.get(memory)!);
  },
  maxMessages: 8,
});

conversationMemoryContract('redis', {
  create: () => openRedis(`contract${++prefixCounter}:`, 8),
  async reopen(memory) {
    await memory.close?.();
    return openRedis(prefixes.get(memory)!);
  },
  maxMessages: 8,
});
