import type { RoomMessage } from '@atmosphere/client';
import { expect, test } from 'vitest';
import { conversation, lastOf, type SentMessage } from './conversation.ts';

const message = (id: number, from: string, text: string): RoomMessage => ({
  room: 'lobby',
  id,
  from,
  data: { text },
});

test('own messages show right after the message last received when they were sent', () => {
  const received: RoomMessage[] = [message(1, 'bob', 'hi'), message(2, 'assistant', 'hello all')];
  const sent: SentMessage[] = [
    { key: 0, text: 'first', after: undefined },
    { key: 1, text: 'after hi', after: received[0] },
    { key: 2, text: 'also after hi', after: received[0] },
    { key: 3, text: 'last', after: lastOf(received) },
  ];
  expect(conversation(received, sent, 'alice').map((line) => `${line.from}: ${line.text}`)).toEqual([
    'alice: first',
    'bob: hi',
    'alice: after hi',
    'alice: also after hi',
    'assistant: hello all',
    'alice: last',
  ]);
});

test('own messages that follow a message no longer kept come first; keys are unique', () => {
  const gone = message(1, 'bob', 'old');
  const received: RoomMessage[] = [
    message(2, 'bob', 'new'),
    { room: 'lobby', id: undefined, from: 'carol', data: 'psst' },
  ];
  const lines = conversation(received, [{ key: 0, text: 'reply to old', after: gone }], 'alice');
  expect(lines).toEqual([
    { key: 'sent-0', from: 'alice', text: 'reply to old' },
    { key: 'id-2', from: 'bob', text: 'new' },
    { key: 'received-1', from: 'carol', text: 'psst' },
  ]);
  expect(lastOf([])).toBeUndefined();
});

test('a copy of the message (what Vue and Svelte state hand back: a proxy) is matched by its id', () => {
  const history: RoomMessage[] = [message(1, 'bob', 'earlier'), message(2, 'assistant', 'an answer')];
  // Stored in reactive state, `after` comes back as another object with the same id.
  const proxied = new Proxy(lastOf(history)!, {});
  const lines = conversation(history, [{ key: 0, text: 'new', after: proxied }], 'alice');
  expect(lines.map((line) => `${line.from}: ${line.text}`)).toEqual([
    'bob: earlier',
    'assistant: an answer',
    'alice: new',
  ]);
});
