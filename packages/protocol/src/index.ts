/**
 * `@atmosphere/protocol`: the Atmosphere wire protocol, defined once and imported by the server packages and
 * `@atmosphere/client` alike. No dependencies, nothing from `node:`, safe in a browser.
 */
export {
  AI_EVENT_NAMES,
  AI_ROLES,
  type AiEvent,
  type AiEventData,
  type AiEventFrame,
  type AiEventName,
  type AiFrame,
  type AiRole,
  APPROVAL_PREFIX,
  approvalMessage,
  completeFrame,
  errorFrame,
  eventFrame,
  isAiEvent,
  isTerminalFrame,
  metadataFrame,
  parseAiFrame,
  parseRoleMessage,
  parseSteerMessage,
  progressFrame,
  roleMessage,
  RUN_ID_METADATA_KEY,
  STEER_PREFIX,
  steerMessage,
  STOP_PREFIX,
  stopMessage,
  type TerminalAiFrame,
  textFrame,
} from './ai-frames.ts';
export { CloseCodes, isDeliberateClose } from './close-codes.ts';
export { ProtocolError, type ProtocolErrorCode } from './errors.ts';
export {
  FrameParser,
  isInvisible,
  lengthPrefixed,
  PADDING_CHAR,
  SSE_PADDING,
  STREAMING_PADDING,
} from './framing.ts';
export { type Handshake, handshakeText, parseHandshake } from './handshake.ts';
export { jsonDepth, parseUntrustedJson } from './json.ts';
export {
  type AtmosphereHeader,
  AtmosphereHeaders,
  FRAMEWORK_VERSION,
  isProtocolParameter,
  isUnsupportedFrameworkVersion,
  MIN_FRAMEWORK_VERSION,
  NO_CACHE_HEADERS,
  TRACKING_ID_PATTERN,
  UNSUPPORTED_VERSION_MESSAGE,
} from './parameters.ts';
export type { StreamPosition } from './positions.ts';
export {
  type CommandLimits,
  framePrefix,
  isMemberId,
  isRoomName,
  joinAckFrame,
  MEMBER_ID_PATTERN,
  MEMBER_ID_RULE,
  membersJson,
  messageFrame,
  type ParseResult,
  parseRoomCommand,
  parseRoomMessage,
  presenceFrame,
  type RoomAiFrame,
  type RoomClientMessage,
  type RoomCommand,
  roomErrorFrame,
  type RoomMember,
  type RoomMetadata,
  ROOM_NAME_PATTERN,
  ROOM_NAME_RULE,
  type RoomServerMessage,
  tagFrame,
  typingFrame,
} from './rooms.ts';
export { type SseEvent, sseErrorEvent, sseEvent, SseParser, sseNormalize } from './sse.ts';
export {
  CLIENT_TRANSPORTS,
  type ClientTransportName,
  normalizeTransport,
  type TransportName,
  type TransportParameter,
  TRANSPORTS,
} from './transports.ts';
