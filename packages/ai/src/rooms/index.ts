/**
 * `@atmosphere/ai/rooms`: AI members of `@atmosphere/rooms` rooms. Reserved for `LlmRoomMember`; nothing is
 * exported yet.
 */
export {};
