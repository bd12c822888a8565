import { describe, expect, expectTypeOf, test } from 'vitest';
import { type AiFrame, parseAiFrame, type StreamPosition } from '../src/index.ts';

/**
 * The public surface of @atmosphere/protocol, pinned: a value export added or removed shows here in review (and
 * needs a changeset). Types are pinned by the expectTypeOf checks, which the typecheck runs.
 */
describe('@atmosphere/protocol public API', () => {
  test('the root entry exports exactly these values', async () => {
    expect(Object.keys(await import('../src/index.ts')).sort()).toEqual([
      'AI_EVENT_NAMES',
      'AI_ROLES',
      'APPROVAL_PREFIX',
      'AtmosphereHeaders',
      'CLIENT_TRANSPORTS',
      'CloseCodes',
      'ESCAPE_PREFIX',
      'FRAMEWORK_VERSION',
      'FrameParser',
      'MAX_CURSORS',
      'MAX_TIMING_AGE_MS',
      'MAX_TIMING_SAMPLES',
      'MEMBER_ID_PATTERN',
      'MEMBER_ID_RULE',
      'MIN_FRAMEWORK_VERSION',
      'NO_CACHE_HEADERS',
      'PADDING_CHAR',
      'POSITION_MARK',
      'ProtocolError',
      'ROOM_NAME_PATTERN',
      'ROOM_NAME_RULE',
      'RUN_ID_METADATA_KEY',
      'SESSION_TOKEN_PATTERN',
      'SSE_PADDING',
      'STEER_PREFIX',
      'STOP_PREFIX',
      'STREAMING_PADDING',
      'SseParser',
      'TIMING_PREFIX',
      'TRACKING_ID_PATTERN',
      'TRANSPORTS',
      'UNSUPPORTED_VERSION_MESSAGE',
      'approvalMessage',
      'atmosphereJsJoinFrame',
      'atmosphereJsMembersJson',
      'atmosphereJsMessageFrame',
      'atmosphereJsPresenceFrame',
      'completeFrame',
      'errorFrame',
      'eventFrame',
      'formatCursors',
      'framePrefix',
      'handshakeText',
      'isAiEvent',
      'isDeliberateClose',
      'isInvisible',
      'isMemberId',
      'isProtocolParameter',
      'isRoomName',
      'isTerminalFrame',
      'isUnsupportedFrameworkVersion',
      'joinAckFrame',
      'jsonDepth',
      'lengthPrefixed',
      'mayApprove',
      'mayControlTurns',
      'membersJson',
      'messageFrame',
      'metadataFrame',
      'normalizeTransport',
      'parseAiFrame',
      'parseCursors',
      'parseHandshake',
      'parsePositionedBytes',
      'parsePositionedText',
      'parseRoleMessage',
      'parseRoomCommand',
      'parseRoomMessage',
      'parseSteerMessage',
      'parseTimingMessage',
      'parseUntrustedJson',
      'positionPrefix',
      'presenceFrame',
      'progressFrame',
      'resetFrame',
      'roleMessage',
      'roomErrorFrame',
      'roomRoleFrame',
      'sseErrorEvent',
      'sseEvent',
      'sseNormalize',
      'steerMessage',
      'stopMessage',
      'tagFrame',
      'textFrame',
      'timingMessage',
      'typingFrame',
    ]);
  });

  test('the frame types both sides read', () => {
    expectTypeOf(parseAiFrame).returns.toEqualTypeOf<AiFrame | undefined>();
    expectTypeOf<AiFrame['type']>().toEqualTypeOf<
      'streaming-text' | 'progress' | 'metadata' | 'complete' | 'error' | 'event'
    >();
    expectTypeOf<StreamPosition>().toHaveProperty('seq');
  });
});
