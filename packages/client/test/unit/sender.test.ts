import { describe, expect, test } from 'vitest';
import { Sender, encode } from '../../src/core/sender.ts';
import { Store } from '../../src/index.ts';
import type { PostResult } from '../../src/transports/post.ts';
import { AtmosphereClientError } from '../../src/index.ts';

/** A post channel answering with the scripted results, recording what was posted and when. */
function scriptedPosts(results: PostResult[]) {
  const posted: string[] = [];
  const pending: ((result: PostResult) => void)[] = [];
  return {
    posted,
    /** Settles the oldest in-flight post with the next scripted result. */
    answer() {
      pending.shift()!(results.shift()!);
    },
    inFlight: () => pending.length,
    channel: {
      kind: 'post' as const,
      post(body: string | ArrayBuffer) {
        posted.push(body as string);
        return new Promise<PostResult>((resolve) => pending.push(resolve));
      },
    },
  };
}

const ok: PostResult = { ok: true };
const refused: PostResult = {
  ok: false,
  retry: false,
  error: new AtmosphereClientError('SEND_FAILED', 'refused', { status: 400 }),
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

describe('Sender', () => {
  test('posts one at a time, in push order; a refused post is reported and dropped', async () => {
    const errors: string[] = [];
    const sender = new Sender(10, 10, (error) => errors.push(error.message));
    const script = scriptedPosts([ok, refused, ok]);
    sender.push('a');
    sender.push('b');
    sender.push('c');
    expect(script.posted).toEqual([]);
    sender.setChannel(script.channel);
    expect(script.posted).toEqual(['a']);
    expect(script.inFlight()).toBe(1);
    script.answer();
    await settle();
    expect(script.posted).toEqual(['a', 'b']);
    script.answer();
    await settle();
    expect(errors).toEqual(['refused']);
    script.answer();
    await settle();
    expect(script.posted).toEqual(['a', 'b', 'c']);
    expect(sender.queue.size).toBe(0);
  });

  test('a socket channel takes everything at once; a throwing send keeps the message for the next channel', () => {
    const sender = new Sender(10, 10, () => undefined);
    sender.push('1');
    sender.push('2');
    const sent: string[] = [];
    sender.setChannel({
      kind: 'socket',
      send: (body) => {
        if (body === '2') throw new Error('closing');
        sent.push(body as string);
      },
    });
    expect(sent).toEqual(['1']);
    expect(sender.queue.peek()).toBe('2');
    sender.setChannel({ kind: 'socket', send: (body) => void sent.push(body as string) });
    expect(sent).toEqual(['1', '2']);
  });
});

test('encode: strings as is, bytes as ArrayBuffer, the rest as JSON', () => {
  expect(encode('x')).toBe('x');
  expect(encode({ a: 1 })).toBe('{"a":1}');
  expect(encode(null)).toBe('null');
  const bytes = new Uint8Array([9, 8, 7, 6]).subarray(1, 3);
  expect([...new Uint8Array(encode(bytes) as ArrayBuffer)]).toEqual([8, 7]);
  expect(() => encode(undefined as never)).toThrow(/cannot be sent/);
});

test('Store: a new snapshot object per change, listeners called after it', () => {
  const store = new Store({ n: 0, s: 'a' });
  const first = store.getSnapshot();
  const seen: number[] = [];
  const stop = store.subscribe(() => seen.push(store.getSnapshot().n));
  store.update({ n: 1 });
  expect(store.getSnapshot()).not.toBe(first);
  expect(store.getSnapshot()).toEqual({ n: 1, s: 'a' });
  stop();
  store.update({ n: 2 });
  expect(seen).toEqual([1]);
});
