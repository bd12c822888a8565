import { afterEach, describe, expect, test } from 'vitest';
import type { ChatMessage } from '../spi/chat.ts';
import type { ConversationMemory } from '../spi/conversation-memory.ts';

/** How the contract suite gets the store under test. */
export interface ConversationMemoryContractOptions {
  /** A fresh store, on storage no other test uses (a new file, a new key prefix). */
  create(): ConversationMemory | Promise<ConversationMemory>;
  /**
   * Durable stores: closes `memory` and opens a new store on the same storage, as a restarted process would.
   * The suite then checks that every conversation survived, in order.
   */
  reopen?(memory: ConversationMemory): ConversationMemory | Promise<ConversationMemory>;
  /**
   * The most messages the store keeps per conversation, when `create()` configures a cap (the suite then
   * checks that the oldest go first). Leave out for a store created without one.
   */
  readonly maxMessages?: number;
  /** Per-test timeout. Default 20 000 ms. */
  readonly timeoutMs?: number;
}

let conversationCounter = 0;
/** A conversation id no other test of the run uses (stores may share storage between tests). */
function conversationId(label: string): string {
  return `contract.${label}.${Date.now().toString(36)}.${++conversationCounter}`;
}

const contents = (messages: readonly ChatMessage[]): string[] => messages.map((m) => m.content);

/**
 * The contract of a conversation store (provider kind `conversation-memory`), as a vitest `describe` block,
 * run against the real store: an unknown conversation is empty; appends keep order (also when not awaited one
 * by one); `limit` returns the most recent messages, oldest first; every field of a message reads back exactly
 * (roles, tool calls, tool-call ids, unicode); conversations are separate; `clear` empties one and no other;
 * history survives a reopen (when `reopen` is given); the cap keeps the newest (when `maxMessages` is given).
 */
export function conversationMemoryContract(name: string, options: ConversationMemoryContractOptions): void {
  const timeout = options.timeoutMs ?? 20_000;

  describe(`${name}: conversation-memory contract`, () => {
    const open: ConversationMemory[] = [];
    const make = async (): Promise<ConversationMemory> => {
      const memory = await options.create();
      open.push(memory);
      return memory;
    };
    afterEach(async () => {
      for (const memory of open.splice(0)) await memory.close?.().catch(() => undefined);
    });

    test(
      'an unknown conversation has no history; a store has a name',
      async () => {
        const memory = await make();
        expect(memory.name.length).toBeGreaterThan(0);
        expect(await memory.history(conversationId('unknown'))).toEqual([]);
        expect(await memory.history(conversationId('unknown'), { limit: 5 })).toEqual([]);
      },
      timeout,
    );

    test(
      'appends keep order, within one call and across calls, also when not awaited one by one',
      async () => {
        const memory = await make();
        const id = conversationId('order');
        await memory.append(id, [
          { role: 'user', content: 'q1' },
          { role: 'assistant', content: 'a1' },
        ]);
        await Promise.all([
          memory.append(id, [{ role: 'user', content: 'q2' }]),
          memory.append(id, [{ role: 'assistant', content: 'a2' }]),
          memory.append(id, [{ role: 'user', content: 'q3' }]),
        ]);
        expect(contents(await memory.history(id))).toEqual(['q1', 'a1', 'q2', 'a2', 'q3']);
      },
      timeout,
    );

    test(
      'limit returns the most recent messages, oldest first; 0 returns none; a limit past the end returns all',
      async () => {
        const memory = await make();
        const id = conversationId('limit');
        await memory.append(
          id,
          ['m1', 'm2', 'm3', 'm4'].map((content) => ({ role: 'user', content })),
        );
        expect(contents(await memory.history(id, { limit: 2 }))).toEqual(['m3', 'm4']);
        expect(await memory.history(id, { limit: 0 })).toEqual([]);
        expect(contents(await memory.history(id, { limit: 99 }))).toEqual(['m1', 'm2', 'm3', 'm4']);
      },
      timeout,
    );

    test(
      'every field reads back exactly: roles, tool calls, tool-call ids, unicode and JSON-looking text',
      async () => {
        const memory = await make();
        const id = conversationId('fields');
        const messages: ChatMessage[] = [
          { role: 'system', content: 'Be brief.' },
          { role: 'user', content: 'Wetter in Zürich? 🌦 "quoted" \\ back\nslash' },
          {
            role: 'assistant',
            content: '',
            toolCalls: [
              { id: 'call_1', name: 'weather', arguments: '{"city":"Zürich"}' },
              { id: 'call_2', name: 'time', arguments: '{}' },
            ],
          },
          { role: 'tool', content: '{"celsius":7}', toolCallId: 'call_1' },
          { role: 'tool', content: '12:00', toolCallId: 'call_2' },
          { role: 'assistant', content: '{"not":"an object to parse"}' },
        ];
        await memory.append(id, messages);
        expect(await memory.history(id)).toEqual(messages);
      },
      timeout,
    );

    test(
      'conversations are separate; clear empties one and leaves the others',
      async () => {
        const memory = await make();
        const a = conversationId('a');
        const b = conversationId('b');
        await memory.append(a, [{ role: 'user', content: 'for a' }]);
        await memory.append(b, [{ role: 'user', content: 'for b' }]);
        expect(contents(await memory.history(a))).toEqual(['for a']);
        expect(contents(await memory.history(b))).toEqual(['for b']);
        await memory.clear(a);
        expect(await memory.history(a)).toEqual([]);
        expect(contents(await memory.history(b))).toEqual(['for b']);
        await memory.append(a, [{ role: 'user', content: 'again' }]);
        expect(contents(await memory.history(a))).toEqual(['again']);
        await memory.clear(conversationId('never-used'));
      },
      timeout,
    );

    if (options.maxMessages !== undefined) {
      const cap = options.maxMessages;
      test(
        `keeps at most ${cap} messages per conversation, dropping the oldest`,
        async () => {
          const memory = await make();
          const id = conversationId('cap');
          const total = cap + 3;
          for (let i = 1; i <= total; i++) await memory.append(id, [{ role: 'user', content: `m${i}` }]);
          const expected = Array.from({ length: cap }, (_, i) => `m${total - cap + i + 1}`);
          expect(contents(await memory.history(id))).toEqual(expected);
        },
        timeout,
      );
    }

    if (options.reopen) {
      const reopen = options.reopen.bind(options);
      test(
        'history survives a reopen on the same storage, in order',
        async () => {
          const memory = await make();
          const id = conversationId('reopen');
          await memory.append(id, [
            { role: 'user', content: 'before' },
            { role: 'assistant', content: 'restart', toolCalls: [{ id: 't', name: 'n', arguments: '{}' }] },
          ]);
          const reopened = await reopen(memory);
          open.push(reopened);
          expect(await reopened.history(id)).toEqual([
            { role: 'user', content: 'before' },
            { role: 'assistant', content: 'restart', toolCalls: [{ id: 't', name: 'n', arguments: '{}' }] },
          ]);
          await reopened.append(id, [{ role: 'user', content: 'after' }]);
          expect(contents(await reopened.history(id))).toEqual(['before', 'restart', 'after']);
        },
        timeout,
      );
    }
  });
}
