import { expect, test } from 'vitest';
import { parseRoomMessage, roomRoleFrame } from '../src/index.ts';

test('reads every server message of PROTOCOL.md §8', () => {
  expect(
    parseRoomMessage('{"type":"join_ack","room":"lobby","members":[{"id":"alice","metadata":{}},{"bad":1}]}'),
  ).toEqual({
    type: 'join_ack',
    room: 'lobby',
    members: [{ id: 'alice', metadata: {} }],
  });
  expect(
    parseRoomMessage(
      '{"type":"presence","room":"lobby","action":"leave","memberId":"bob","metadata":{"x":1}}',
    ),
  ).toEqual({
    type: 'presence',
    room: 'lobby',
    action: 'leave',
    memberId: 'bob',
    metadata: { x: 1 },
  });
  expect(
    parseRoomMessage('{"type":"message","room":"lobby","id":7,"from":"alice","data":{"t":"hi"}}'),
  ).toEqual({
    type: 'message',
    room: 'lobby',
    id: 7,
    from: 'alice',
    data: { t: 'hi' },
  });
  expect(parseRoomMessage('{"type":"message","room":"lobby","from":"alice","data":"x"}')).toMatchObject({
    id: undefined,
  });
  expect(parseRoomMessage('{"type":"typing","room":"lobby","memberId":"alice","typing":true}')).toEqual({
    type: 'typing',
    room: 'lobby',
    memberId: 'alice',
    typing: true,
  });
  expect(parseRoomMessage('{"type":"error","room":"lobby","data":"Unauthorized"}')).toEqual({
    type: 'error',
    room: 'lobby',
    data: 'Unauthorized',
    code: undefined,
  });
  expect(
    parseRoomMessage('{"type":"error","room":"lobby","data":"Viewers may not stop","code":"FORBIDDEN"}'),
  ).toEqual({ type: 'error', room: 'lobby', data: 'Viewers may not stop', code: 'FORBIDDEN' });
  expect(parseRoomMessage(roomRoleFrame('lobby', 'assistant', 'viewer'))).toEqual({
    type: 'ai-role',
    room: 'lobby',
    memberId: 'assistant',
    role: 'viewer',
  });
  expect(parseRoomMessage('{"type":"ai-role","room":"lobby","memberId":"assistant","role":"king"}')).toBe(
    undefined,
  );
  expect(parseRoomMessage('{"type":"ai-role","room":"lobby","role":"owner"}')).toBe(undefined);
});

test('the atmosphere.js dialect, other JSON and text are not room messages', () => {
  for (const text of [
    '{"type":"presence","room":"lobby","member":{"id":"a"},"data":"leave"}',
    '{"type":"join","room":"lobby","data":[]}',
    '{"type":"message","data":"no room"}',
    '{"type":"presence","room":"r","action":"wave","memberId":"a"}',
    'plain text',
    '{"room": broken',
  ]) {
    expect(parseRoomMessage(text), text).toBeUndefined();
  }
});

test('property: the server frames read back as the messages they describe', async () => {
  const fc = (await import('fast-check')).default;
  const { membersJson, joinAckFrame, presenceFrame, messageFrame, typingFrame, roomErrorFrame } =
    await import('../src/index.ts');
  const room = fc.stringMatching(/^[A-Za-z0-9_.:-]{1,128}$/);
  const id = fc.stringMatching(/^[A-Za-z0-9_.:@+-]{1,128}$/);
  const metadata = fc.dictionary(fc.string(), fc.jsonValue(), { maxKeys: 4 });
  fc.assert(
    fc.property(
      room,
      id,
      metadata,
      fc.jsonValue(),
      fc.nat(),
      fc.boolean(),
      fc.string(),
      (r, m, meta, data, n, typing, reason) => {
        const member = { id: m, metadata: JSON.parse(JSON.stringify(meta)) as Record<string, unknown> };
        expect(parseRoomMessage(joinAckFrame(r, membersJson([member])))).toEqual({
          type: 'join_ack',
          room: r,
          members: [member],
        });
        expect(parseRoomMessage(presenceFrame(r, 'leave', member))).toEqual({
          type: 'presence',
          room: r,
          action: 'leave',
          memberId: m,
          metadata: member.metadata,
        });
        expect(parseRoomMessage(messageFrame(r, n, m, data)!)).toEqual({
          type: 'message',
          room: r,
          id: n,
          from: m,
          data: JSON.parse(JSON.stringify(data)) as unknown,
        });
        expect(parseRoomMessage(typingFrame(r, m, typing))).toEqual({
          type: 'typing',
          room: r,
          memberId: m,
          typing,
        });
        expect(parseRoomMessage(roomErrorFrame(r, reason))).toEqual({
          type: 'error',
          room: r,
          data: reason,
          code: undefined,
        });
      },
    ),
    { numRuns: 300 },
  );
});
