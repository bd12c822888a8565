import { describe, expect, test } from 'vitest';
import {
  ESCAPE_PREFIX,
  formatCursors,
  MAX_CURSORS,
  parseCursors,
  parsePositionedBytes,
  parsePositionedText,
  positionPrefix,
  resetFrame,
} from '../src/index.ts';

describe('stream positions on the wire', () => {
  test('a positioned message reads back with its stream, epoch and seq, the payload unchanged', () => {
    const stream = '/chat/a,b|c d';
    const text = `${positionPrefix(stream, { epoch: 'e-1,|x', seq: 42 })}{"text":"a|b"}`;
    expect(text).toBe('\u001dp42,e-1%2C%7Cx,%2Fchat%2Fa%2Cb%7Cc%20d|{"text":"a|b"}');
    expect(parsePositionedText(text)).toEqual({
      kind: 'message',
      body: '{"text":"a|b"}',
      cursor: { stream, epoch: 'e-1,|x', seq: 42 },
    });
  });

  test('text without the mark is a message without a position; the escape keeps a marked payload intact', () => {
    expect(parsePositionedText('hello')).toEqual({ kind: 'message', body: 'hello' });
    expect(parsePositionedText(`${ESCAPE_PREFIX}\u001dp1,e,s|x`)).toEqual({
      kind: 'message',
      body: '\u001dp1,e,s|x',
    });
  });

  test('the reset frame names the stream, where the gap starts and where the stream resumes', () => {
    const reset = {
      stream: 'rooms:lobby',
      from: { epoch: 'old', seq: 7 },
      resumeAt: { epoch: 'new', seq: 1 },
    };
    expect(resetFrame(reset)).toBe(
      '\u001dr|{"stream":"rooms:lobby","from":{"epoch":"old","seq":7},"resumeAt":{"epoch":"new","seq":1}}',
    );
    expect(parsePositionedText(resetFrame(reset))).toEqual({ kind: 'reset', reset });
  });

  test('unreadable marked frames are refused', () => {
    for (const bad of [
      '\u001dp1,e,s',
      '\u001dpx,e,s|',
      '\u001dq|x',
      '\u001dr|{"stream":1}',
      '\u001dr|nope',
      '\u001dp1,e|x',
    ])
      expect(parsePositionedText(bad), bad).toBeUndefined();
  });

  test('binary messages carry the same ASCII prefix before their bytes', () => {
    const prefix = new TextEncoder().encode(positionPrefix('/bin', { epoch: 'e', seq: 3 }));
    const bytes = new Uint8Array([...prefix, 0x00, 0x1d, 0x7c, 0xff]);
    const read = parsePositionedBytes(bytes)!;
    expect(read.cursor).toEqual({ stream: '/bin', epoch: 'e', seq: 3 });
    expect([...read.body]).toEqual([0x00, 0x1d, 0x7c, 0xff]);
    expect(parsePositionedBytes(new Uint8Array([1, 2]))!.body).toEqual(new Uint8Array([1, 2]));
    expect(parsePositionedBytes(new Uint8Array([0x1d, 0x7c, 9]))).toEqual({ body: new Uint8Array([9]) });
    expect(parsePositionedBytes(new Uint8Array([0x1d, 0x70]))).toBeUndefined();
  });

  test('cursors round-trip, bad entries are skipped and at most MAX_CURSORS are read', () => {
    const cursors = [
      { stream: '/a;b,c', epoch: 'e;1', seq: 0 },
      { stream: 'rooms:x', epoch: 'f', seq: 123 },
    ];
    expect(parseCursors(formatCursors(cursors))).toEqual(cursors);
    expect(parseCursors('a,b,1;;x,y;a,b,-1;%E0,e,1;,e,1;s,e,2')).toEqual([
      { stream: 'a', epoch: 'b', seq: 1 },
      { stream: 's', epoch: 'e', seq: 2 },
    ]);
    const many = Array.from({ length: 100 }, (_, i) => ({ stream: `s${i}`, epoch: 'e', seq: i }));
    expect(parseCursors(formatCursors(many))).toHaveLength(MAX_CURSORS);
    expect(parseCursors(many.map((c) => `${c.stream},e,${c.seq}`).join(';'))).toHaveLength(MAX_CURSORS);
  });
});
