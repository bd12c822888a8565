import { describe, expect, test } from 'vitest';
import { InboundDecoder } from '../../src/protocol/inbound.ts';

function collector() {
  const items: string[] = [];
  return {
    items,
    sink: {
      handshake: (h: { trackingId: string; heartbeatMs: number; paddingChar: string }) =>
        void items.push(`handshake:${h.trackingId}:${h.heartbeatMs}:${h.paddingChar}`),
      message: (text: string) => void items.push(`message:${text}`),
      heartbeat: () => void items.push('heartbeat'),
    },
  };
}

describe('InboundDecoder', () => {
  test('framed: handshake first, heartbeats and whitespace dropped, messages kept in order', () => {
    const decoder = new InboundDecoder({ framed: true, expectHandshake: true, maxMessageSize: 1000 });
    const { items, sink } = collector();
    decoder.push(' '.repeat(2048) + '\n' + '12|abc-1|250|Y|', sink);
    decoder.push('1|Y1|X5|hello3|   ', sink);
    expect(items).toEqual(['handshake:abc-1:250:Y', 'heartbeat', 'message:X', 'message:hello']);
    expect(decoder.awaitingHandshake).toBe(false);
  });

  test('unframed stream: leading padding dropped, then each unit is a message', () => {
    const decoder = new InboundDecoder({ framed: false, expectHandshake: false, maxMessageSize: 1000 });
    const { items, sink } = collector();
    decoder.push('    \n', sink);
    decoder.push('  hello', sink);
    decoder.push(' world', sink);
    decoder.push('X', sink);
    expect(items).toEqual(['message:hello', 'message: world', 'heartbeat']);
  });

  test('unframed: a handshake with trailing messages in the same unit', () => {
    const decoder = new InboundDecoder({ framed: false, expectHandshake: true, maxMessageSize: 1000 });
    const { items, sink } = collector();
    decoder.push('\n id|0|X|{"a":1}', sink);
    expect(items).toEqual(['handshake:id:0:X', 'message:{"a":1}']);
  });

  test('endUnit refuses a poll body that ended inside a message, then starts clean', () => {
    const decoder = new InboundDecoder({ framed: true, expectHandshake: false, maxMessageSize: 1000 });
    const { items, sink } = collector();
    decoder.push('5|hel', sink);
    expect(() => decoder.endUnit()).toThrow(expect.objectContaining({ code: 'PROTOCOL_ERROR' }) as Error);
    decoder.push('2|ok', sink);
    decoder.endUnit();
    expect(items).toEqual(['message:ok']);
  });

  test('an unframed message past maxMessageSize is refused', () => {
    const decoder = new InboundDecoder({ framed: false, expectHandshake: false, maxMessageSize: 4 });
    expect(() => decoder.push('hello', collector().sink)).toThrow(
      expect.objectContaining({ code: 'MESSAGE_TOO_LARGE' }) as Error,
    );
  });
});
