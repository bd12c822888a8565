import { AtmosphereError } from '@atmosphere/runtime';
import type { ChatMessage, ConversationMemory } from '@atmosphere/ai/spi';
import type { RedisCommandsLike } from '../redis/connection.ts';
import {
  checkSignal,
  type ConversationLimits,
  DEFAULT_CONVERSATION_LIMITS,
  encodeMessages,
} from './conversation-limits.ts';

function failed(operation: string, error: unknown): AtmosphereError {
  if (AtmosphereError.isInstance(error)) return error;
  return new AtmosphereError(
    'MEMORY_FAILED',
    `The Redis conversation memory could not ${operation}: ${(error as Error).message}. Check that Redis (ATMOSPHERE_REDIS_URL / durable({ redis })) is up.`,
    { cause: error },
  );
}

/**
 * Conversation memory (`conversation-memory`) on Redis, shared by every node: one list per conversation
 * (`<prefix>conversation:<id>`), trimmed to `maxMessages` and expiring `ttlMs` after the last append.
 */
export class RedisConversationMemory implements ConversationMemory {
  readonly name = 'redis';
  readonly limits: Readonly<ConversationLimits>;
  readonly prefix: string;
  readonly #redis: RedisCommandsLike;
  readonly #onClose: (() => Promise<void>) | undefined;
  #closed = false;

  constructor(
    redis: RedisCommandsLike,
    options: { prefix?: string; limits?: Partial<ConversationLimits>; onClose?: () => Promise<void> } = {},
  ) {
    this.#redis = redis;
    this.prefix = options.prefix ?? 'atmosphere:';
    this.limits = Object.freeze({ ...DEFAULT_CONVERSATION_LIMITS, ...options.limits });
    this.#onClose = options.onClose;
  }

  #key(conversationId: string): string {
    return `${this.prefix}conversation:${conversationId}`;
  }

  async history(
    conversationId: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<ChatMessage[]> {
    this.#assertOpen();
    checkSignal(options.signal);
    const limit = Math.max(0, Math.min(options.limit ?? this.limits.maxMessages, this.limits.maxMessages));
    if (limit === 0) return [];
    try {
      const items = await this.#redis.lrange(this.#key(conversationId), -limit, -1);
      return items.map((item) => JSON.parse(item) as ChatMessage);
    } catch (error) {
      throw failed('read a conversation', error);
    }
  }

  async append(
    conversationId: string,
    messages: readonly ChatMessage[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    this.#assertOpen();
    checkSignal(options.signal);
    const encoded = encodeMessages(messages, this.limits);
    if (encoded.length === 0) return;
    const key = this.#key(conversationId);
    try {
      // One connection keeps the order of the three commands; auto-pipelining sends them together.
      await Promise.all([
        this.#redis.rpush(key, ...encoded),
        this.#redis.ltrim(key, -this.limits.maxMessages, -1),
        this.#redis.pexpire(key, this.limits.ttlMs),
      ]);
    } catch (error) {
      throw failed('append to a conversation', error);
    }
  }

  async clear(conversationId: string): Promise<void> {
    this.#assertOpen();
    try {
      await this.#redis.del(this.#key(conversationId));
    } catch (error) {
      throw failed('clear a conversation', error);
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#onClose?.();
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The redis conversation memory is closed.');
  }
}
