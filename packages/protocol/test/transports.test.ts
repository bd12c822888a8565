import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CloseCodes, isDeliberateClose, normalizeTransport, TRANSPORTS } from '../src/index.ts';

describe('transport names', () => {
  test('every spelling of every transport (case, - or _, spaces) reads as its canonical name', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...TRANSPORTS, 'close' as const),
        fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
        fc.boolean(),
        (name, upper, underscore) => {
          let spelled = '';
          for (let i = 0; i < name.length; i++) spelled += upper[i] ? name[i]!.toUpperCase() : name[i]!;
          if (underscore) spelled = spelled.replaceAll('-', '_');
          expect(normalizeTransport(` ${spelled} `)).toBe(name);
        },
      ),
    );
  });

  test('anything else is unknown', () => {
    for (const value of ['', 'web socket', 'longpolling', 'jsonp', 'ajax', 'websocket2'])
      expect(normalizeTransport(value)).toBeUndefined();
  });
});

describe('close codes', () => {
  test('every code a close frame carries is deliberate but 4000 (coming back); 1005 and 1006 are not', () => {
    for (const code of [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1011, 3000, 4401, 4999])
      expect(isDeliberateClose(code)).toBe(true);
    for (const code of [1005, 1006, CloseCodes.comingBack]) expect(isDeliberateClose(code)).toBe(false);
  });
});
