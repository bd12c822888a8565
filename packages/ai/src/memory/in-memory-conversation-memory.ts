import type { ChatMessage } from '../spi/chat.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';

export interface InMemoryConversationMemoryOptions {
  /** Messages kept per conversation; older ones are dropped. Default 20. */
  readonly maxMessages?: number;
  /** Conversations kept; the least recently used is dropped past it. Default 10 000. */
  readonly maxConversations?: number;
}

/**
 * The default {@link ConversationMemory}: per conversation, the last `maxMessages` messages, in this process
 * only (lost on restart; not shared across nodes).
 */
export class InMemoryConversationMemory implements ConversationMemory {
  readonly name = 'in-memory';
  readonly maxMessages: number;
  readonly maxConversations: number;
  // A Map keeps insertion order: re-inserting on use makes the first key the least recently used.
  readonly #conversations = new Map<string, ChatMessage[]>();

  constructor(options: InMemoryConversationMemoryOptions = {}) {
    this.maxMessages = options.maxMessages ?? 20;
    this.maxConversations = options.maxConversations ?? 10_000;
  }

  get size(): number {
    return this.#conversations.size;
  }

  async history(conversationId: string, options: { limit?: number } = {}): Promise<ChatMessage[]> {
    const messages = this.#conversations.get(conversationId);
    if (!messages) return [];
    this.#touch(conversationId, messages);
    const limit = options.limit;
    return limit === undefined || limit >= messages.length
      ? [...messages]
      : messages.slice(messages.length - Math.max(0, limit));
  }

  async append(conversationId: string, messages: readonly ChatMessage[]): Promise<void> {
    let stored = this.#conversations.get(conversationId);
    if (!stored) {
      stored = [];
      if (this.#conversations.size >= this.maxConversations) {
        const oldest = this.#conversations.keys().next();
        if (!oldest.done) this.#conversations.delete(oldest.value);
      }
    }
    stored.push(...messages);
    if (stored.length > this.maxMessages) stored.splice(0, stored.length - this.maxMessages);
    this.#touch(conversationId, stored);
  }

  async clear(conversationId: string): Promise<void> {
    this.#conversations.delete(conversationId);
  }

  async close(): Promise<void> {
    this.#conversations.clear();
  }

  #touch(id: string, messages: ChatMessage[]): void {
    this.#conversations.delete(id);
    this.#conversations.set(id, messages);
  }
}
