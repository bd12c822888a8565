import { describe, expect, test } from 'vitest';
import { handshakeText, parseHandshake } from '../src/index.ts';

describe('parseHandshake', () => {
  test('reads id, client heartbeat and padding char', () => {
    expect(parseHandshake('3f0c-a_b|0|X|')).toEqual({
      handshake: { trackingId: '3f0c-a_b', heartbeatMs: 0, paddingChar: 'X' },
      rest: '',
    });
    expect(parseHandshake('id|5000|Y|5|hello').rest).toBe('5|hello');
  });

  test('anything else is a PROTOCOL_ERROR naming the fix', () => {
    expect(() => parseHandshake('hello')).toThrow(/enableProtocol: false/);
    expect(() => parseHandshake('bad id!|0|X|')).toThrow(
      expect.objectContaining({ code: 'PROTOCOL_ERROR' }) as Error,
    );
  });
});

describe('handshake round trip (property)', () => {
  test('what a server writes is what a client reads, whatever follows it in the same unit', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.stringMatching(/^[A-Za-z0-9_-]{1,128}$/),
        fc.integer({ min: 0, max: 999_999_999 }),
        fc.constantFrom('X', 'Y', '#'),
        fc.string(),
        (trackingId, heartbeatMs, paddingChar, rest) => {
          expect(parseHandshake(handshakeText(trackingId, heartbeatMs, paddingChar) + rest)).toEqual({
            handshake: { trackingId, heartbeatMs, paddingChar },
            rest,
          });
        },
      ),
      { numRuns: 300 },
    );
  });
});
