import { afterEach, describe, expect, test, vi } from 'vitest';
import { ClientQueues } from './client-queue.ts';
import { EncodedMessage } from './encoded-message.ts';

afterEach(() => {
  vi.useRealTimers();
});

describe('EncodedMessage encodings', () => {
  test('every encoding carries the same text, framed as its transport wants', () => {
    const message = new EncodedMessage('héllo\r\nwörld');
    expect(message.bytes('plain').toString('utf8')).toBe('héllo\r\nwörld');
    expect(message.bytes('framed').toString('utf8')).toBe('12|héllo\r\nwörld');
    expect(message.bytes('sse').toString('utf8')).toBe('data:héllo\r\ndata:wörld\r\n\r\n');
    // The client counts what EventSource hands it: line ends normalised to \n.
    expect(message.bytes('sse-framed').toString('utf8')).toBe('data:11|héllo\r\ndata:wörld\r\n\r\n');
    expect(message.bytes('binary').toString('utf8')).toBe('héllo\r\nwörld');
  });

  test('each encoding is made once and shared', () => {
    const message = new EncodedMessage('{"n":1}');
    const framed = message.bytes('framed');
    expect(framed.toString('utf8')).toBe('7|{"n":1}');
    expect(message.bytes('framed')).toBe(framed);
    expect(message.bytes('plain').toString('utf8')).toBe('{"n":1}');
    expect(message.bytes('plain')).toBe(message.bytes('plain'));
  });

  test('a binary payload travels as base64 text on text transports and as it is in a binary frame', () => {
    const payload = new Uint8Array([0, 1, 2, 250]);
    const message = new EncodedMessage(payload);
    expect(message.binary).toBe(true);
    expect(message.bytes('plain').toString('utf8')).toBe(Buffer.from(payload).toString('base64'));
    expect([...message.bytes('binary')]).toEqual([0, 1, 2, 250]);
  });

  test('only the padding char and whitespace are invisible', () => {
    for (const text of ['X', '', ' ', '\n\t ', '\u00a0\u2028'])
      expect(new EncodedMessage(text).invisible).toBe(true);
    for (const text of ['XX', '{}', ' x ', '\u00a0y', 'é'])
      expect(new EncodedMessage(text).invisible).toBe(false);
  });
});

describe('EncodedMessage age', () => {
  test('a message kept for a client is stamped when it is first kept, and keeps that stamp', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 1_000 });
    const message = new EncodedMessage('m');
    vi.setSystemTime(5_000);
    const queue = new ClientQueues().queue('a');
    queue.enqueue(message);
    vi.setSystemTime(9_000);
    new ClientQueues().queue('b').enqueue(message);
    expect(message.createdAt).toBe(5_000);
  });

  test('a message written at once to a client that confirms is stamped when it is held for the confirmation', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 2_000 });
    const queue = new ClientQueues().queue('a');
    queue.retainWritten = true;
    const message = new EncodedMessage('m');
    vi.setSystemTime(3_000);
    queue.recordWritten(message);
    expect(message.createdAt).toBe(3_000);
  });

  test('a given time is kept; an unkept message is stamped when first asked', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 7_000 });
    expect(new EncodedMessage('m', undefined, 0).createdAt).toBe(0);
    const message = new EncodedMessage('m');
    vi.setSystemTime(8_000);
    expect(message.createdAt).toBe(8_000);
    vi.setSystemTime(9_000);
    expect(message.createdAt).toBe(8_000);
  });

  test('the cache expires a message by the time it was kept', () => {
    vi.useFakeTimers({ toFake: ['Date'], now: 0 });
    const cache = new ClientQueues({ messageTtlMs: 1_000 });
    const queue = cache.queue('a');
    const message = new EncodedMessage('m');
    vi.setSystemTime(10_000);
    queue.enqueue(message);
    cache.sweep(10_500);
    expect(queue.pending.length).toBe(1);
    cache.sweep(11_500);
    expect(queue.pending.length).toBe(0);
  });
});
