import { describe, expect, test } from 'vitest';
import {
  atmosphereJsJoinFrame,
  atmosphereJsMembersJson,
  atmosphereJsMessageFrame,
  atmosphereJsPresenceFrame,
  framePrefix,
  joinAckFrame,
  membersJson,
  messageFrame,
  presenceFrame,
  roomErrorFrame,
  tagFrame,
  typingFrame,
} from '../src/index.ts';

describe('frames', () => {
  test('the atmosphere.js 5 dialect, as its AtmosphereRooms reads it', () => {
    expect(
      JSON.parse(
        atmosphereJsJoinFrame('lobby', atmosphereJsMembersJson([{ id: 'alice', metadata: { a: 1 } }])),
      ),
    ).toEqual({ type: 'join', room: 'lobby', data: [{ id: 'alice', info: { a: 1 } }] });
    expect(atmosphereJsPresenceFrame('lobby', 'leave', { id: 'bob', metadata: {} })).toBe(
      '{"type":"presence","room":"lobby","data":"leave","member":{"id":"bob","info":{}}}',
    );
    expect(atmosphereJsMessageFrame('lobby', 7, 'alice', { t: 1 }, false)).toBe(
      '{"type":"broadcast","room":"lobby","data":{"t":1},"member":{"id":"alice"},"id":7}',
    );
    expect(atmosphereJsMessageFrame('lobby', undefined, 'alice', 'psst', true)).toBe(
      '{"type":"direct","room":"lobby","data":"psst","member":{"id":"alice"}}',
    );
    expect(atmosphereJsMessageFrame('lobby', undefined, undefined, null, false)).toBe(
      '{"type":"broadcast","room":"lobby","data":null}',
    );
    expect(atmosphereJsMessageFrame('lobby', undefined, undefined, undefined, false)).toBeUndefined();
  });

  test('the exact shapes of PROTOCOL.md §8', () => {
    expect(JSON.parse(joinAckFrame('lobby', membersJson([{ id: 'alice', metadata: { a: 1 } }])))).toEqual({
      type: 'join_ack',
      room: 'lobby',
      members: [{ id: 'alice', metadata: { a: 1 } }],
    });
    expect(presenceFrame('lobby', 'join', { id: 'bob', metadata: {} })).toBe(
      '{"type":"presence","room":"lobby","action":"join","memberId":"bob","metadata":{}}',
    );
    expect(messageFrame('lobby', 7, 'alice', { t: 1 })).toBe(
      '{"type":"message","room":"lobby","id":7,"from":"alice","data":{"t":1}}',
    );
    expect(messageFrame('lobby', undefined, undefined, null)).toBe(
      '{"type":"message","room":"lobby","data":null}',
    );
    expect(typingFrame('lobby', 'bob', false)).toBe(
      '{"type":"typing","room":"lobby","memberId":"bob","typing":false}',
    );
    expect(roomErrorFrame('lobby', 'Unauthorized')).toBe(
      '{"type":"error","room":"lobby","data":"Unauthorized"}',
    );
    expect(roomErrorFrame(undefined, 'Invalid JSON')).toBe('{"type":"error","data":"Invalid JSON"}');
  });

  test('messages that cannot be JSON have no frame (undefined, a cycle, a BigInt)', () => {
    expect(messageFrame('lobby', 1, 'a', undefined)).toBeUndefined();
    const cycle: Record<string, unknown> = {};
    cycle['self'] = cycle;
    expect(messageFrame('lobby', 1, 'a', cycle)).toBeUndefined();
    expect(messageFrame('lobby', 1, 'a', { n: 1n })).toBeUndefined();
  });

  test('AI frames are tagged with room and sender without being parsed; other text passes as is', () => {
    const prefix = framePrefix('lobby', 'ai');
    const frame = '{"type":"streaming-text","data":"Hel","sessionId":"s","seq":1}';
    expect(JSON.parse(tagFrame(prefix, frame))).toEqual({
      room: 'lobby',
      from: 'ai',
      type: 'streaming-text',
      data: 'Hel',
      sessionId: 's',
      seq: 1,
    });
    expect(tagFrame(prefix, '{}')).toBe('{"room":"lobby","from":"ai"}');
    expect(tagFrame(prefix, '{ \n}')).toBe('{"room":"lobby","from":"ai"}');
    expect(JSON.parse(tagFrame(prefix, '{ "a" : 1 }'))).toEqual({ room: 'lobby', from: 'ai', a: 1 });
    expect(tagFrame(prefix, 'plain text')).toBe('plain text');
    expect(tagFrame(prefix, '[1,2]')).toBe('[1,2]');
  });
});
