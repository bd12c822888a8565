import type { ChatMessage } from './chat.ts';

/**
 * Where conversations are kept between prompts (SPI kind `conversation-memory`). The in-memory store is the
 * default; a package for another store registers a provider of this kind (or the application passes an
 * instance as `aiEndpoint({ conversationMemory })`).
 *
 * Contract: `history` returns messages oldest first, at most `limit` of the most recent when given; `append`
 * keeps order; ids are opaque strings chosen by the endpoint (by default the client's tracking id). Every store
 * runs `conversationMemoryContract` from `@atmosphere/ai/testing` against its real storage.
 */
export interface ConversationMemory {
  readonly name: string;
  history(conversationId: string, options?: { limit?: number; signal?: AbortSignal }): Promise<ChatMessage[]>;
  append(
    conversationId: string,
    messages: readonly ChatMessage[],
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  clear(conversationId: string): Promise<void>;
  /** Releases the store's resources (connections). */
  close?(): Promise<void>;
}
