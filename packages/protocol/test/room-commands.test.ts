import { describe, expect, test } from 'vitest';
import { parseRoomCommand, parseTimingMessage, timingMessage } from '../src/index.ts';

const limits = { maxMessageLength: 1000, maxMetadataLength: 50, maxJsonDepth: 8 };
const parse = (value: unknown) =>
  parseRoomCommand(typeof value === 'string' ? value : JSON.stringify(value), limits);

describe('parseRoomCommand', () => {
  test('accepts our dialect', () => {
    expect(parse({ type: 'join', room: 'lobby', memberId: 'alice', metadata: { n: 1 }, sinceId: 4 })).toEqual(
      {
        ok: true,
        command: {
          type: 'join',
          room: 'lobby',
          memberId: 'alice',
          metadata: { n: 1 },
          sinceId: 4,
          dialect: 'standard',
        },
      },
    );
    expect(parse({ type: 'join', room: 'lobby' })).toEqual({
      ok: true,
      command: {
        type: 'join',
        room: 'lobby',
        memberId: undefined,
        metadata: {},
        sinceId: undefined,
        dialect: 'standard',
      },
    });
    expect(
      parse({ type: 'join', room: 'lobby', memberId: null, metadata: null, sinceId: null }),
    ).toMatchObject({ ok: true, command: { memberId: undefined, sinceId: undefined } });
    expect(parse({ type: 'leave', room: 'lobby' })).toEqual({
      ok: true,
      command: { type: 'leave', room: 'lobby' },
    });
    expect(parse({ type: 'broadcast', room: 'lobby', data: null })).toEqual({
      ok: true,
      command: { type: 'broadcast', room: 'lobby', data: null },
    });
    expect(parse({ type: 'direct', room: 'lobby', targetId: 'bob', data: [1] })).toEqual({
      ok: true,
      command: { type: 'direct', room: 'lobby', targetId: 'bob', data: [1] },
    });
    expect(parse({ type: 'typing', room: 'lobby', typing: false })).toEqual({
      ok: true,
      command: { type: 'typing', room: 'lobby', typing: false },
    });
  });

  test('accepts the atmosphere.js dialect on input', () => {
    expect(parse({ type: 'join', room: 'lobby', member: { id: 'alice', info: { c: 'red' } } })).toMatchObject(
      { ok: true, command: { memberId: 'alice', metadata: { c: 'red' }, dialect: 'atmosphere.js' } },
    );
    // Ours wins when both are there.
    expect(parse({ type: 'join', room: 'lobby', memberId: 'bob', member: { id: 'alice' } })).toMatchObject({
      ok: true,
      command: { memberId: 'bob', dialect: 'standard' },
    });
    expect(parse({ type: 'direct', room: 'lobby', target: 'bob', data: 1 })).toMatchObject({
      ok: true,
      command: { targetId: 'bob' },
    });
    expect(parse({ type: 'leave', room: 'lobby', member: { id: 'alice' } })).toEqual({
      ok: true,
      command: { type: 'leave', room: 'lobby' },
    });
  });

  test('refuses with a reason, naming the room only when it is valid', () => {
    const cases: [unknown, string | undefined, string][] = [
      ['{', undefined, 'Invalid JSON'],
      ['null', undefined, 'Expected a JSON object'],
      [[], undefined, 'Expected a JSON object'],
      [{}, undefined, 'Unknown type'],
      [{ type: 'JOIN', room: 'lobby' }, 'lobby', 'Unknown type'],
      [{ type: 'hug', room: 'lobby' }, 'lobby', 'Unknown type: hug'],
      [
        { type: 'join', room: 5 },
        undefined,
        'Invalid room name: expected 1-128 characters of A-Z a-z 0-9 _ . : -',
      ],
      [
        { type: 'join', room: '<script>' },
        undefined,
        'Invalid room name: expected 1-128 characters of A-Z a-z 0-9 _ . : -',
      ],
      [
        { type: 'join', room: 'lobby', memberId: 5 },
        'lobby',
        'Invalid memberId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
      ],
      [
        { type: 'join', room: 'lobby', metadata: 'x' },
        'lobby',
        'Invalid metadata: expected a JSON object of at most 50 characters',
      ],
      [
        { type: 'join', room: 'lobby', metadata: { long: 'x'.repeat(60) } },
        'lobby',
        'Invalid metadata: expected a JSON object of at most 50 characters',
      ],
      [
        { type: 'join', room: 'lobby', sinceId: 1.5 },
        'lobby',
        'Invalid sinceId: expected a non-negative integer',
      ],
      [
        { type: 'join', room: 'lobby', sinceId: '3' },
        'lobby',
        'Invalid sinceId: expected a non-negative integer',
      ],
      [{ type: 'broadcast', room: 'lobby' }, 'lobby', 'Missing data'],
      [
        { type: 'direct', room: 'lobby', data: 1 },
        'lobby',
        'Invalid targetId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
      ],
      [{ type: 'direct', room: 'lobby', targetId: 'bob' }, 'lobby', 'Missing data'],
      [{ type: 'typing', room: 'lobby' }, 'lobby', 'Invalid typing: expected true or false'],
      [
        `{"type":"join","room":"lobby","metadata":${'['.repeat(9)}${']'.repeat(9)}}`,
        undefined,
        'JSON nested too deeply',
      ],
      [
        { type: 'broadcast', room: 'lobby', data: 'x'.repeat(1000) },
        undefined,
        'Message too large: at most 1000 characters',
      ],
    ];
    for (const [input, room, error] of cases)
      expect(parse(input), JSON.stringify(input)).toEqual({ ok: false, room, error });
  });

  test('prototype keys are stripped, never read', () => {
    expect(parse('{"__proto__":{"type":"join","room":"vault"}}')).toEqual({
      ok: false,
      room: undefined,
      error: 'Unknown type',
    });
    expect(parse('{"type":"join","room":"vault","__proto__":{"memberId":"alice"}}')).toMatchObject({
      ok: true,
      command: { memberId: undefined },
    });
    expect(
      parse('{"type":"join","room":"lobby","metadata":{"__proto__":{"admin":true},"n":1}}'),
    ).toMatchObject({ ok: true, command: { metadata: { n: 1 } } });
    expect(({} as Record<string, unknown>)['admin']).toBeUndefined();
  });

  test('turn control: stop and steer address an AI member, optionally one answer', () => {
    expect(parse({ type: 'stop', room: 'lobby', memberId: 'assistant' })).toEqual({
      ok: true,
      command: { type: 'stop', room: 'lobby', memberId: 'assistant', sessionId: undefined },
    });
    expect(parse({ type: 'stop', room: 'lobby', memberId: 'assistant', sessionId: 's-1' })).toEqual({
      ok: true,
      command: { type: 'stop', room: 'lobby', memberId: 'assistant', sessionId: 's-1' },
    });
    expect(
      parse({ type: 'steer', room: 'lobby', memberId: 'assistant', steerId: 'g1', text: '  shorter  ' }),
    ).toEqual({
      ok: true,
      command: {
        type: 'steer',
        room: 'lobby',
        memberId: 'assistant',
        steerId: 'g1',
        text: 'shorter',
        sessionId: undefined,
      },
    });
    const refused: [unknown, string][] = [
      [
        { type: 'stop', room: 'lobby' },
        'Invalid memberId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
      ],
      [
        { type: 'stop', room: 'lobby', memberId: 'assistant', sessionId: 7 },
        'Invalid sessionId: expected the sessionId of the answer (1-128 characters)',
      ],
      [
        { type: 'steer', room: 'lobby', memberId: 'assistant', steerId: 'a b', text: 'x' },
        'Invalid steerId: expected 1-64 characters of A-Z a-z 0-9 _ -',
      ],
      [
        { type: 'steer', room: 'lobby', memberId: 'assistant', steerId: 'g1', text: '   ' },
        'Invalid text: expected the guidance, a non-empty string',
      ],
    ];
    for (const [input, error] of refused)
      expect(parse(input), JSON.stringify(input)).toEqual({ ok: false, room: 'lobby', error });
  });

  test("approval: answers an AI member's tool approval, with edited arguments on approve only", () => {
    const base = { type: 'approval', room: 'lobby', memberId: 'assistant', approvalId: 'ap-1' };
    expect(parse({ ...base, decision: 'deny' })).toEqual({
      ok: true,
      command: { ...base, approved: false, arguments: undefined },
    });
    expect(parse({ ...base, decision: 'approve', arguments: { city: 'Paris' } })).toEqual({
      ok: true,
      command: { ...base, approved: true, arguments: { city: 'Paris' } },
    });
    const refused: [unknown, string][] = [
      [
        { ...base, memberId: 'a b', decision: 'deny' },
        'Invalid memberId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
      ],
      [
        { ...base, approvalId: '', decision: 'deny' },
        'Invalid approvalId: expected the approvalId of the approval-required event',
      ],
      [{ ...base, decision: true }, 'Invalid decision: expected "approve" or "deny"'],
      [
        { ...base, decision: 'approve', arguments: [1] },
        'Invalid arguments: expected an object, with "approve" only',
      ],
      [
        { ...base, decision: 'deny', arguments: {} },
        'Invalid arguments: expected an object, with "approve" only',
      ],
    ];
    for (const [input, error] of refused)
      expect(parse(input), JSON.stringify(input)).toEqual({ ok: false, room: 'lobby', error });
  });

  test("timing: a paint timing report about an AI member's answer, passed on as sent (read and counted there)", () => {
    const report = timingMessage('5f0c1e2a-9d7b-4c1e-8a3f-2b6d4e8f0a11', [
      { seq: 2, receivedAgoMs: 30, paintedAgoMs: 14 },
    ]);
    const base = { type: 'timing', room: 'lobby', memberId: 'assistant' };
    expect(parse({ ...base, report })).toEqual({ ok: true, command: { ...base, report } });
    expect(parseTimingMessage(report)).toHaveProperty('report');
    // A report that is no report at all goes on as '' — which the member refuses (unanswered) and counts.
    for (const bad of [undefined, 42, null, ['/__timing/r [[1,2,1]]'], { runId: 'r' }])
      expect(parse({ ...base, report: bad }), JSON.stringify(bad)).toEqual({
        ok: true,
        command: { ...base, report: '' },
      });
    expect(parseTimingMessage('')).toEqual({ reason: 'not a timing report' });
    // Whom it is about must be a member id: otherwise the envelope is refused like any other command.
    expect(parse({ ...base, memberId: 'a b', report })).toEqual({
      ok: false,
      room: 'lobby',
      error: 'Invalid memberId: expected 1-128 characters of A-Z a-z 0-9 _ . : @ + -',
    });
    expect(parse({ type: 'timing', memberId: 'assistant', report })).toEqual({
      ok: false,
      room: undefined,
      error: 'Missing room',
    });
    // The whole command is bounded like every other one (the report on its own at 1 024 characters).
    expect(parse({ ...base, report: `${report}${' '.repeat(1000)}` })).toMatchObject({ ok: false });
    expect(parseTimingMessage(`${report}${' '.repeat(1024)}`)).toEqual({ reason: 'too long' });
  });
});
