/**
 * `@atmosphere/ai/spi`: what an implementer of the AI SPIs needs — the AgentRuntime an adapter implements,
 * the context and session it is handed, tool calls, chat messages and usage, and the ConversationMemory
 * store SPI. Applications import from `@atmosphere/ai`.
 */
export {
  AGENT_CAPABILITIES,
  type AgentCapability,
  type AgentContext,
  type AgentRuntime,
  type StructuredOutputRequest,
} from './agent-runtime.ts';
export { addUsage, type ChatMessage, type ChatRole, type ChatToolCall, type TokenUsage } from './chat.ts';
export type { ConversationMemory } from './conversation-memory.ts';
export type { AiEvent, AiEventData, AiEventName } from '../streaming/frames.ts';
export type { StreamingSession } from '../streaming/streaming-session.ts';
export type { JsonSchema } from '../tools/json-schema.ts';
export type { Tool, ToolContext } from '../tools/tool.ts';
export type { ToolCallRequest, ToolOutcome } from '../tools/tool-runner.ts';
