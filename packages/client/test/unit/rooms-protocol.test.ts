import { expect, test } from 'vitest';
import { parseRoomMessage } from '../../src/index.ts';

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
  });
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
