/**
 * `@atmosphere/ai`: AI endpoints and streaming sessions for applications — prompts in, AI frames out over every
 * Atmosphere transport — with tools and approvals, conversation memory, structured output, AI interceptors, the
 * built-in OpenAI-compatible runtime and the demo model. Implementers of runtimes and stores import
 * `@atmosphere/ai/spi`; contract suites are in `@atmosphere/ai/testing`; AI room members in `@atmosphere/ai/rooms`.
 */
export { aiEndpoint, type AiEndpointHandle } from './endpoint/ai-endpoint.ts';
export type {
  AiEndpointOptions,
  AiSession,
  InterruptedRuns,
  ApprovalsBy,
  OnPrompt,
  PromptContext,
  RoleContext,
  StreamOptions,
  WhileAnswering,
} from './endpoint/ai-endpoint-options.ts';
export { AiEndpoint, Prompt } from './endpoint/decorators.ts';
/** What a connection may do to an AI run: see `AiEndpointOptions.role`. */
export type { AiRole } from '@atmosphere/protocol';
export { type AiErrorCode, LlmError, type LlmErrorKind } from './errors.ts';
export {
  InMemoryConversationMemory,
  type InMemoryConversationMemoryOptions,
} from './memory/in-memory-conversation-memory.ts';
export type {
  AiInterceptor,
  AiInterceptorContext,
  AiRequest,
  AiResponse,
} from './pipeline/ai-interceptor.ts';
export { runAgent, type RunAgentOptions } from './pipeline/run-agent.ts';
export type { AiTelemetry, ModelPricing, Pricing } from './telemetry/ai-telemetry.ts';
export { type DemoRuntime, demoRuntime, type DemoRuntimeOptions } from './runtimes/demo/demo-runtime.ts';
export {
  DEFAULT_MODEL,
  type LlmConfig,
  type LlmConfigInput,
  type LlmMode,
  resolveLlmConfig,
} from './runtimes/openai/config.ts';
export {
  OpenAiCompatibleRuntime,
  openAiRuntime,
  type OpenAiRuntimeOptions,
} from './runtimes/openai/openai-runtime.ts';
export {
  agentRuntimeProvider,
  builtInRuntimeProvider,
  demoRuntimeProvider,
  inMemoryConversationMemoryProvider,
} from './runtimes/providers.ts';
export type {
  AgentCapability,
  AgentRetryPolicy,
  AgentRuntime,
  PromptCacheHint,
} from './spi/agent-runtime.ts';
export type { ChatMessage, ChatRole, TokenUsage } from './spi/chat.ts';
export type { ConversationMemory } from './spi/conversation-memory.ts';
export type { JsonSchema } from './spi/json-schema.ts';
export type { SessionOutcome, StreamingSession } from './spi/streaming-session.ts';
export type { FrameSink } from './streaming/frame-sink.ts';
export type { RunRecord, RunRegistry, RunRegistryOptions } from './streaming/run-registry.ts';
export {
  createBroadcasterSession,
  createResourceSession,
  type SessionTargetOptions,
} from './streaming/session-factories.ts';
export { createStreamingSession, type StreamingSessionOptions } from './streaming/streaming-session.ts';
export {
  type StructuredOutput,
  structuredOutput,
  type StructuredOutputOptions,
} from './structured/structured-output.ts';
export type { ApprovalAnswer, ApprovalDecision, ApprovalRegistry } from './tools/approvals.ts';
export { tool, type Tool, type ToolContext, type ToolOptions } from './tools/tool.ts';
