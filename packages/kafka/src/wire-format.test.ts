import type { BackplaneMessage } from '@atmosphere/runtime/spi';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { KafkaMessageLike } from './kafka-client.ts';
import {
  decodeRelayRecord,
  encodeRelayRecord,
  isFromNode,
  MalformedRecordError,
  recordSize,
  RELAY_HEADERS,
} from './wire-format.ts';

const NODE = Buffer.alloc(16, 3);

/** What kafkajs hands to eachMessage for the record encodeRelayRecord made. */
function received(message: BackplaneMessage): KafkaMessageLike {
  const { record } = encodeRelayRecord(NODE, message, 0);
  return { key: record.key, value: record.value, headers: record.headers, offset: '0', timestamp: '0' };
}

describe('the relay record', () => {
  test('key is the broadcaster, value the payload bytes, and only the headers a message needs', () => {
    const { record, bytes } = encodeRelayRecord(NODE, { broadcaster: '/b', payload: 'hé' }, 2);
    expect(record.key.toString()).toBe('/b');
    expect([...record.value]).toEqual([0x68, 0xc3, 0xa9]);
    expect(record.partition).toBe(2);
    expect(Object.keys(record.headers)).toEqual([RELAY_HEADERS.version, RELAY_HEADERS.node]);
    expect(bytes).toBe(2 + 3 + RELAY_HEADERS.version.length + 1 + RELAY_HEADERS.node.length + 16);
    expect(recordSize(received({ broadcaster: '/b', payload: 'hé' }))).toBe(bytes);
  });

  test('round trip of any message, position included (property)', () => {
    const message = fc.record(
      {
        broadcaster: fc.string({ unit: 'grapheme' }),
        payload: fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 300 })),
        targets: fc.array(fc.string({ unit: 'grapheme' }), { maxLength: 5 }),
        exclude: fc.string({ unit: 'grapheme' }),
        position: fc.record({
          epoch: fc.string({ minLength: 1, unit: 'grapheme' }),
          seq: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
        }),
      },
      { requiredKeys: ['broadcaster', 'payload'] },
    );
    fc.assert(
      fc.property(message, (original) => {
        const decoded = decodeRelayRecord(received(original));
        expect(decoded.broadcaster).toBe(original.broadcaster);
        expect(decoded.targets).toEqual(original.targets);
        expect(decoded.exclude).toBe(original.exclude);
        expect(decoded.position).toEqual(original.position);
        if (typeof original.payload === 'string') expect(decoded.payload).toBe(original.payload);
        else {
          expect(decoded.payload).toBeInstanceOf(Uint8Array);
          expect([...(decoded.payload as Uint8Array)]).toEqual([...original.payload]);
        }
      }),
    );
  });

  test('the sender is recognised; string headers (as another client may send) decode too', () => {
    expect(isFromNode(received({ broadcaster: '/b', payload: 'p' }), NODE)).toBe(true);
    expect(isFromNode(received({ broadcaster: '/b', payload: 'p' }), Buffer.alloc(16))).toBe(false);
    const record = received({ broadcaster: '/b', payload: 'p' });
    const text = {
      ...record,
      headers: { ...record.headers, [RELAY_HEADERS.version]: '1', [RELAY_HEADERS.exclude]: 'me' },
    };
    expect(decodeRelayRecord(text)).toEqual({ broadcaster: '/b', payload: 'p', exclude: 'me' });
  });

  test('the W3C trace context rides in traceparent and tracestate headers; a malformed one is ignored, the message kept', () => {
    const traceparent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const traced = received({
      broadcaster: '/b',
      payload: 'p',
      trace: { traceparent, tracestate: 'vendor=opaque,other=1' },
    });
    expect(traced.headers?.[RELAY_HEADERS.traceparent]?.toString()).toBe(traceparent);
    expect(decodeRelayRecord(traced)).toEqual({
      broadcaster: '/b',
      payload: 'p',
      trace: { traceparent, tracestate: 'vendor=opaque,other=1' },
    });
    expect(decodeRelayRecord(received({ broadcaster: '/b', payload: 'p', trace: { traceparent } }))).toEqual({
      broadcaster: '/b',
      payload: 'p',
      trace: { traceparent },
    });
    const plain = received({ broadcaster: '/b', payload: 'p' });
    for (const bad of [
      'not-a-traceparent',
      `${traceparent}x`,
      'ZZ-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
    ])
      expect(
        decodeRelayRecord({ ...plain, headers: { ...plain.headers, [RELAY_HEADERS.traceparent]: bad } }),
      ).toEqual({ broadcaster: '/b', payload: 'p' });
    expect(
      decodeRelayRecord({
        ...plain,
        headers: { ...plain.headers, [RELAY_HEADERS.traceparent]: [traceparent, traceparent] },
      }),
    ).toEqual({ broadcaster: '/b', payload: 'p' });
    // A tracestate that is not printable ASCII is dropped; the traceparent stands.
    expect(
      decodeRelayRecord({
        ...plain,
        headers: {
          ...plain.headers,
          [RELAY_HEADERS.traceparent]: traceparent,
          [RELAY_HEADERS.tracestate]: 'a=\u0000',
        },
      }),
    ).toEqual({ broadcaster: '/b', payload: 'p', trace: { traceparent } });
  });

  test('anything else is refused with the reason, never a crash (property)', () => {
    const headerValue = fc.oneof(
      fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
      fc.constant(undefined),
    );
    fc.assert(
      fc.property(
        fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b))),
        fc.option(fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b))),
        fc.dictionary(fc.constantFrom(...Object.values(RELAY_HEADERS)), headerValue),
        (key, value, headers) => {
          try {
            decodeRelayRecord({ key, value, headers, offset: '0', timestamp: '0' });
          } catch (error) {
            expect(error).toBeInstanceOf(MalformedRecordError);
          }
        },
      ),
    );
    const record = received({ broadcaster: '/b', payload: 'p' });
    expect(() =>
      decodeRelayRecord({ ...record, headers: { ...record.headers, [RELAY_HEADERS.version]: ['1', '1'] } }),
    ).toThrow('the atmosphere-v header appears more than once');
  });
});
