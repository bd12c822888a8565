/**
 * `@atmosphere/ai/spi`: what an implementer of the AI SPIs needs — the AgentRuntime an adapter implements, the
 * context and session it is handed, tools and tool calls, chat messages and usage, the ConversationMemory store
 * SPI, and the helpers every runtime uses to classify errors, retry and redact. The type files of `src/spi/` are
 * leaves: they import nothing but each other, `@atmosphere/protocol` and `@atmosphere/runtime/spi`.
 * Applications import from `@atmosphere/ai`; contract suites are in `@atmosphere/ai/testing`.
 */
export type { AiEvent, AiEventData, AiEventName } from '@atmosphere/protocol';
export {
  aiError,
  type AiErrorCode,
  cancelledError,
  describeError,
  isAbortError,
  LlmError,
  type LlmErrorKind,
  stoppedError,
} from '../errors.ts';
export { type AgentContextInput, createAgentContext } from '../pipeline/agent-context.ts';
export { redactSecrets } from '../runtimes/openai/redact.ts';
export { backoffDelay, type RetryOptions, retryAfterMs } from '../runtimes/openai/retry.ts';
export {
  AGENT_CAPABILITIES,
  type AgentCapability,
  type AgentContext,
  type AgentRetryPolicy,
  type PromptCacheHint,
  type AgentSteering,
  type AgentRuntime,
  type StructuredOutputRequest,
} from './agent-runtime.ts';
export {
  addUsage,
  type ChatImagePart,
  type ChatMessage,
  type ChatPart,
  type ChatRole,
  type ChatToolCall,
  type ImageMediaType,
  type TokenUsage,
} from './chat.ts';
export type { ConversationMemory } from './conversation-memory.ts';
export type { JsonSchema, JsonSchemaType, SchemaIssue } from './json-schema.ts';
export type { SessionOutcome, StreamingSession } from './streaming-session.ts';
export type { Tool, ToolCallRequest, ToolContext, ToolOutcome } from './tool.ts';
