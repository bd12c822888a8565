import type { BackplaneMessage } from '@atmosphere/runtime/spi';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import {
  decodeRelayMessage,
  encodeRelayMessage,
  HEADER_BYTES,
  isFromNode,
  MalformedMessageError,
  WIRE_MAGIC,
  WIRE_VERSION,
} from './wire-format.ts';

const NODE = new Uint8Array(16).map((_, i) => i + 1);

function roundTrip(message: BackplaneMessage): BackplaneMessage {
  return decodeRelayMessage(message.broadcaster, encodeRelayMessage(NODE, message));
}

describe('the relay wire format', () => {
  test('a text message is the 19-byte header followed by its UTF-8 bytes', () => {
    const encoded = encodeRelayMessage(NODE, { broadcaster: '/b', payload: 'hé' });
    expect([...encoded]).toEqual([WIRE_MAGIC, WIRE_VERSION, 0x00, ...NODE, 0x68, 0xc3, 0xa9]);
    expect(encoded.length).toBe(HEADER_BYTES + 3);
  });

  test('exclude, then targets, then the raw payload bytes', () => {
    const encoded = encodeRelayMessage(NODE, {
      broadcaster: '/b',
      payload: new Uint8Array([0, 255]),
      targets: ['t', 'ü'],
      exclude: 'x',
    });
    expect([...encoded.subarray(0, 3)]).toEqual([WIRE_MAGIC, WIRE_VERSION, 0x01 | 0x02 | 0x04]);
    expect([...encoded.subarray(HEADER_BYTES)]).toEqual([
      ...[0, 0, 0, 1, 0x78], // exclude "x"
      ...[0, 0, 0, 2], // two targets
      ...[0, 0, 0, 1, 0x74], // "t"
      ...[0, 0, 0, 2, 0xc3, 0xbc], // "ü"
      ...[0, 255], // payload
    ]);
  });

  test('round trip: text stays text, bytes stay bytes (copied), empty targets stay empty', () => {
    expect(roundTrip({ broadcaster: '/b', payload: '' })).toEqual({ broadcaster: '/b', payload: '' });
    const bytes = roundTrip({ broadcaster: '/b', payload: new TextEncoder().encode('hello') });
    expect(typeof bytes.payload).not.toBe('string');
    expect(Buffer.from(bytes.payload as Uint8Array).toString()).toBe('hello');
    expect(roundTrip({ broadcaster: '/b', payload: 'p', targets: [] })).toEqual({
      broadcaster: '/b',
      payload: 'p',
      targets: [],
    });
    const source = encodeRelayMessage(NODE, { broadcaster: '/b', payload: new Uint8Array([1, 2, 3]) });
    const decoded = decodeRelayMessage('/b', source).payload as Uint8Array;
    source.fill(0);
    expect([...decoded]).toEqual([1, 2, 3]);
  });

  test('the trace context follows the targets, traceparent and tracestate split by a newline', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const encoded = encodeRelayMessage(NODE, {
      broadcaster: '/b',
      payload: 'p',
      targets: ['t'],
      trace: { traceparent },
    });
    expect(encoded[2]).toBe(0x02 | 0x08);
    expect([...encoded.subarray(HEADER_BYTES, HEADER_BYTES + 9)]).toEqual([0, 0, 0, 1, 0, 0, 0, 1, 0x74]);
    expect(encoded.readUInt32BE(HEADER_BYTES + 9)).toBe(traceparent.length);
    expect(roundTrip({ broadcaster: '/b', payload: 'p', trace: { traceparent } })).toEqual({
      broadcaster: '/b',
      payload: 'p',
      trace: { traceparent },
    });
    expect(
      roundTrip({ broadcaster: '/b', payload: 'p', trace: { traceparent, tracestate: 'a=1,b=2' } }).trace,
    ).toEqual({ traceparent, tracestate: 'a=1,b=2' });
  });

  test('the position follows the trace: epoch with its length, then the seq as a big-endian u64', () => {
    const encoded = encodeRelayMessage(NODE, {
      broadcaster: '/b',
      payload: 'p',
      position: { epoch: 'é1', seq: 2 ** 32 + 7 },
    });
    expect(encoded[2]).toBe(0x10);
    expect([...encoded.subarray(HEADER_BYTES)]).toEqual([
      ...[0, 0, 0, 3, 0xc3, 0xa9, 0x31], // epoch "é1"
      ...[0, 0, 0, 1, 0, 0, 0, 7], // seq 2^32 + 7
      0x70, // payload "p"
    ]);
    expect(roundTrip({ broadcaster: '/b', payload: 'p', position: { epoch: 'e', seq: 0 } })).toEqual({
      broadcaster: '/b',
      payload: 'p',
      position: { epoch: 'e', seq: 0 },
    });
    const largest = Number.MAX_SAFE_INTEGER;
    expect(
      roundTrip({ broadcaster: '/b', payload: 'p', position: { epoch: 'e', seq: largest } }).position,
    ).toEqual({ epoch: 'e', seq: largest });
    for (const seq of [-1, 1.5, 2 ** 53])
      expect(() =>
        encodeRelayMessage(NODE, { broadcaster: '/b', payload: 'p', position: { epoch: 'e', seq } }),
      ).toThrow(RangeError);
    // A seq beyond 2^53 − 1 on the channel is refused, not rounded.
    const tampered = Buffer.from(encoded);
    tampered.writeUInt32BE(0x20_0000, HEADER_BYTES + 7);
    expect(() => decodeRelayMessage('/b', tampered)).toThrow(MalformedMessageError);
  });

  test('round trip of any message (property)', () => {
    const message = fc.record(
      {
        broadcaster: fc.string(),
        payload: fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 300 })),
        targets: fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 5 }),
        exclude: fc.string({ unit: 'grapheme' }),
        position: fc.record({
          epoch: fc.string({ unit: 'grapheme' }),
          seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
        }),
      },
      { requiredKeys: ['broadcaster', 'payload'] },
    );
    fc.assert(
      fc.property(message, (original) => {
        const decoded = roundTrip(original);
        expect(decoded.broadcaster).toBe(original.broadcaster);
        expect(decoded.targets).toEqual(original.targets);
        expect(decoded.exclude).toBe(original.exclude);
        expect(decoded.position).toEqual(original.position);
        if (typeof original.payload === 'string') expect(decoded.payload).toBe(original.payload);
        else expect([...(decoded.payload as Uint8Array)]).toEqual([...original.payload]);
      }),
    );
  });

  test('the sender is recognised without decoding', () => {
    const encoded = encodeRelayMessage(NODE, { broadcaster: '/b', payload: 'p' });
    expect(isFromNode(encoded, NODE)).toBe(true);
    expect(isFromNode(encoded, new Uint8Array(16))).toBe(false);
    expect(isFromNode(Buffer.from('short'), NODE)).toBe(false);
  });

  test('anything else is refused with the reason, never a crash (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 80 }), (bytes) => {
        try {
          decodeRelayMessage('/b', Buffer.from(bytes));
        } catch (error) {
          expect(error).toBeInstanceOf(MalformedMessageError);
        }
      }),
    );
    const valid = encodeRelayMessage(NODE, {
      broadcaster: '/b',
      payload: 'p',
      targets: ['abc'],
      exclude: 'x',
      position: { epoch: 'ep', seq: 9 },
    });
    // Cut anywhere before the payload (its last byte), a message with targets and a position is refused.
    for (let length = 0; length < valid.length - 1; length++)
      expect(() => decodeRelayMessage('/b', valid.subarray(0, length))).toThrow(MalformedMessageError);
  });
});
