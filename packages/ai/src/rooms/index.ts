/**
 * `@atmosphere/ai/rooms`: AI members of `@atmosphere/rooms` rooms. The only entry of `@atmosphere/ai` that
 * refers to `@atmosphere/rooms` (an optional peer dependency), and only for types: nothing of it is loaded.
 */
export { LlmRoomMember, llmRoomMember, REPLY_TO_METADATA_KEY } from './llm-room-member.ts';
export type {
  LlmReplyTarget,
  LlmRoomMemberOptions,
  LlmRoomReply,
  RoomAnswer,
  RoomAnswerMode,
  RoomPromptContext,
  RoomRoleContext,
  RoomUnaddressedMessage,
  RoomWhileAnswering,
} from './llm-room-member-options.ts';
export { isMentioned, stripMentions } from './mentions.ts';
export { roomMessageText } from './message-text.ts';
