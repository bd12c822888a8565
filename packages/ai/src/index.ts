/**
 * `@atmosphere/ai`: AI endpoints, StreamingSession, the AgentRuntime SPI, tools and approvals, conversation
 * memory, structured output, and the built-in OpenAI-compatible client.
 */
export { aiEndpoint, type AiEndpointHandle } from './endpoint/ai-endpoint.ts';
export type {
  AiEndpointOptions,
  AiSession,
  OnPrompt,
  PromptContext,
  StreamOptions,
} from './endpoint/ai-endpoint-options.ts';
export { AiEndpoint, aiEndpointOptionsOf, Prompt } from './endpoint/decorators.ts';
export { parsePromptMessage, type PromptMessage } from './endpoint/prompt-message.ts';
export {
  aiError,
  type AiErrorCode,
  cancelledError,
  describeError,
  isAbortError,
  LlmError,
  stoppedError,
  type LlmErrorKind,
} from './errors.ts';
export {
  InMemoryConversationMemory,
  type InMemoryConversationMemoryOptions,
} from './memory/in-memory-conversation-memory.ts';
export { type AgentContextInput, createAgentContext } from './pipeline/agent-context.ts';
export type {
  AiInterceptor,
  AiInterceptorContext,
  AiRequest,
  AiResponse,
} from './pipeline/ai-interceptor.ts';
export { PipelineSession } from './pipeline/pipeline-session.ts';
export { runAgent, type RunAgentOptions } from './pipeline/run-agent.ts';
export {
  DemoRuntime,
  demoAnswer,
  demoRuntime,
  type DemoRuntimeOptions,
} from './runtimes/demo/demo-runtime.ts';
export {
  baseUrlForModel,
  DEFAULT_LOCAL_MODEL,
  DEFAULT_MODEL,
  GEMINI_BASE_URL,
  type LlmConfig,
  type LlmConfigInput,
  type LlmMode,
  OLLAMA_BASE_URL,
  OPENAI_BASE_URL,
  resolveLlmConfig,
} from './runtimes/openai/config.ts';
export { OpenAiCompatibleClient, type OpenAiClientOptions } from './runtimes/openai/openai-client.ts';
export {
  OpenAiCompatibleRuntime,
  openAiRuntime,
  type OpenAiRuntimeOptions,
} from './runtimes/openai/openai-runtime.ts';
export { redactSecrets } from './runtimes/openai/redact.ts';
export { backoffDelay, type RetryOptions, retryAfterMs } from './runtimes/openai/retry.ts';
export { type SseEvent, SseParser } from './runtimes/openai/sse-parser.ts';
export type {
  ChatCompletionChunk,
  ChatCompletionRequest,
  WireMessage,
  WireTool,
} from './runtimes/openai/wire.ts';
export {
  agentRuntimeProvider,
  builtInRuntimeProvider,
  demoRuntimeProvider,
  inMemoryConversationMemoryProvider,
} from './runtimes/providers.ts';
export {
  AGENT_CAPABILITIES,
  type AgentCapability,
  type AgentContext,
  type AgentRuntime,
  type StructuredOutputRequest,
} from './spi/agent-runtime.ts';
export { addUsage, type ChatMessage, type ChatRole, type ChatToolCall, type TokenUsage } from './spi/chat.ts';
export type { ConversationMemory } from './spi/conversation-memory.ts';
export { AudienceSink, BroadcasterSink, CollectingSink, type FrameSink } from './streaming/frame-sink.ts';
export {
  AI_EVENT_NAMES,
  type AiEvent,
  type AiEventData,
  type AiEventName,
  type AiFrame,
  APPROVAL_PREFIX,
  LAST_SEQ_PARAM,
  parseAiFrame,
  RUN_ID_METADATA_KEY,
  STOP_PREFIX,
} from './streaming/frames.ts';
export { RunRecord, RunRegistry, type RunRegistryOptions } from './streaming/run-registry.ts';
export {
  createBroadcasterSession,
  createResourceSession,
  type SessionTargetOptions,
} from './streaming/session-factories.ts';
export {
  createStreamingSession,
  FrameStreamingSession,
  type SessionOutcome,
  type StreamingSession,
  type StreamingSessionOptions,
} from './streaming/streaming-session.ts';
export {
  StructuredCapture,
  type StructuredOutput,
  structuredOutput,
  type StructuredOutputOptions,
} from './structured/structured-output.ts';
export {
  type ApprovalAnswer,
  type ApprovalDecision,
  ApprovalRegistry,
  isApprovalMessage,
} from './tools/approvals.ts';
export {
  formatIssues,
  type JsonSchema,
  type JsonSchemaType,
  type SchemaIssue,
  validateJsonSchema,
} from './tools/json-schema.ts';
export {
  type CompiledSchema,
  compileSchema,
  isStandardSchema,
  type SchemaInput,
  type SchemaOutput,
} from './tools/schema.ts';
export { type Tool, tool, type ToolContext, type ToolOptions } from './tools/tool.ts';
export {
  type ToolCallRequest,
  type ToolOutcome,
  ToolRunner,
  type ToolRunnerOptions,
} from './tools/tool-runner.ts';
