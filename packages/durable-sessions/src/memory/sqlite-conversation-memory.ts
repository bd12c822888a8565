import { AtmosphereError } from '@atmosphere/runtime';

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}
import type { ChatMessage, ConversationMemory } from '@atmosphere/ai/spi';
import type { SqliteDatabaseLike, SqliteStatementLike } from '../sqlite/database.ts';
import {
  checkSignal,
  type ConversationLimits,
  DEFAULT_CONVERSATION_LIMITS,
  encodeMessages,
  lastOf,
} from './conversation-limits.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS atmosphere_conversations (
  conversation TEXT NOT NULL,
  seq INTEGER NOT NULL,
  time INTEGER NOT NULL,
  message TEXT NOT NULL,
  PRIMARY KEY (conversation, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS atmosphere_conversations_time ON atmosphere_conversations (time);
`;

/**
 * Conversation memory (`conversation-memory`) in a SQLite file: the history of each conversation survives a
 * restart. Keeps the last `maxMessages` per conversation; forgets conversations idle for `ttlMs`.
 */
export class SqliteConversationMemory implements ConversationMemory {
  readonly name = 'sqlite';
  readonly limits: Readonly<ConversationLimits>;
  readonly #database: SqliteDatabaseLike;
  readonly #ownsDatabase: boolean;
  readonly #statements: {
    last: SqliteStatementLike;
    insert: SqliteStatementLike;
    trim: SqliteStatementLike;
    history: SqliteStatementLike;
    clear: SqliteStatementLike;
    expire: SqliteStatementLike;
    touch: SqliteStatementLike;
  };
  readonly #append: (conversation: string, messages: readonly string[]) => void;
  #lastExpiry = 0;
  #closed = false;

  constructor(
    database: SqliteDatabaseLike,
    options: { limits?: Partial<ConversationLimits>; ownsDatabase?: boolean } = {},
  ) {
    this.#database = database;
    this.#ownsDatabase = options.ownsDatabase ?? false;
    this.limits = Object.freeze({ ...DEFAULT_CONVERSATION_LIMITS, ...options.limits });
    database.exec(SCHEMA);
    this.#statements = {
      last: database.prepare('SELECT MAX(seq) AS last FROM atmosphere_conversations WHERE conversation = ?'),
      insert: database.prepare(
        'INSERT INTO atmosphere_conversations (conversation, seq, time, message) VALUES (?, ?, ?, ?)',
      ),
      trim: database.prepare('DELETE FROM atmosphere_conversations WHERE conversation = ? AND seq <= ?'),
      history: database.prepare(
        'SELECT message FROM atmosphere_conversations WHERE conversation = ? ORDER BY seq DESC LIMIT ?',
      ),
      clear: database.prepare('DELETE FROM atmosphere_conversations WHERE conversation = ?'),
      touch: database.prepare('UPDATE atmosphere_conversations SET time = ? WHERE conversation = ?'),
      expire: database.prepare(
        'DELETE FROM atmosphere_conversations WHERE conversation IN (SELECT conversation FROM atmosphere_conversations GROUP BY conversation HAVING MAX(time) < ?)',
      ),
    };
    this.#append = database.transaction((conversation: string, messages: readonly string[]) => {
      const now = Date.now();
      let seq = (this.#statements.last.get(conversation) as { last: number | null }).last ?? 0;
      for (const message of messages) this.#statements.insert.run(conversation, ++seq, now, message);
      // Every message of the conversation is refreshed, so that the conversation expires as a whole.
      this.#statements.trim.run(conversation, seq - this.limits.maxMessages);
      this.#statements.touch.run(now, conversation);
    });
  }

  history(
    conversationId: string,
    options: { limit?: number; signal?: AbortSignal } = {},
  ): Promise<ChatMessage[]> {
    try {
      this.#assertOpen();
      checkSignal(options.signal);
      const limit = Math.max(0, Math.min(options.limit ?? this.limits.maxMessages, this.limits.maxMessages));
      const rows = this.#statements.history.all(conversationId, limit) as { message: string }[];
      return Promise.resolve(
        lastOf(
          rows.reverse().map((row) => JSON.parse(row.message) as ChatMessage),
          options.limit,
        ),
      );
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  append(
    conversationId: string,
    messages: readonly ChatMessage[],
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    try {
      this.#assertOpen();
      checkSignal(options.signal);
      this.#append(conversationId, encodeMessages(messages, this.limits));
      this.#expire();
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  clear(conversationId: string): Promise<void> {
    try {
      this.#assertOpen();
      this.#statements.clear.run(conversationId);
      return Promise.resolve();
    } catch (error) {
      return Promise.reject(toError(error));
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      if (this.#ownsDatabase && this.#database.open) this.#database.close();
    }
    return Promise.resolve();
  }

  /** Forgets idle conversations, at most once a minute. */
  #expire(): void {
    const now = Date.now();
    if (now - this.#lastExpiry < 60_000) return;
    this.#lastExpiry = now;
    this.#statements.expire.run(now - this.limits.ttlMs);
  }

  #assertOpen(): void {
    if (this.#closed) throw new AtmosphereError('CLOSED', 'The sqlite conversation memory is closed.');
  }
}
