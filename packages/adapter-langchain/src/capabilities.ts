import { AGENT_CAPABILITIES, type AgentCapability } from '@atmosphere/ai/spi';

/** When the LangChain runtime declares each capability (the README's table is generated from this). */
export const LANGCHAIN_CAPABILITY_RULES: Readonly<Record<AgentCapability, string>> = {
  'text-streaming':
    'the model streams (it implements `_streamResponseChunks`, as every provider integration does)',
  'system-prompt': 'always: the system message leads the messages sent to the model',
  'conversation-memory': "always: the context's history is sent before the prompt",
  'tool-calling':
    'the model has `bindTools` (tools bound as JSON Schema; `tool_call_chunks` forwarded as tool-call deltas)',
  'tool-approval': 'with `tool-calling`: every call goes through the shared tool runner (`context.runTool`)',
  'tool-call-deltas':
    'with `tool-calling`: each `tool_call_chunks` piece becomes `ai.toolCall.delta.<id>` (whole calls of non-streaming models as one delta)',
  'reasoning-deltas':
    'always: `reasoning` content blocks (and Anthropic `thinking` blocks), else `additional_kwargs.reasoning_content` (DeepSeek, OpenAI-compatible servers through ChatOpenAI, Ollama, xAI, OpenRouter), become `reasoning-delta` events',
  vision:
    "always: a user message's images become standard base64 image blocks after its text block (`source_type: 'base64'`, `mime_type`, `data`), which the provider integration sends in its own form; a model that cannot read images fails with the provider's error, never without them",
  'structured-output':
    "always: `withStructuredOutput` (JSON Schema, native JSON mode where the model has one), or the prompt instruction with `structuredOutput: 'prompt'`",
  'token-usage':
    'the model reports `usage_metadata` (it has `streamUsage` on, or `reportsUsage: true` is given)',
  cancellation: 'always: the signal is passed to the model call, which aborts its request',
  'per-request-retry':
    "never: a LangChain model retries with its own `maxRetries`, fixed when the model is made (a prompt's `retry` is not applied; the pipeline warns once)",
  'prompt-caching':
    "the model takes OpenAI's prompt-cache call options (ChatOpenAI, AzureChatOpenAI: it has `promptCacheKey`) and reports usage: the hint's key and retention are the call's `promptCacheKey` and `promptCacheRetention` (`prompt_cache_key`, `prompt_cache_retention`: `in_memory` or `24h`); `input_token_details.cache_read` becomes `ai.tokens.cached_input`. Other models ignore such call options, so it is not declared for them (their cached reads are still reported)",
};

/**
 * Features beyond the SPI's capability vocabulary, and whether the adapter has them (the names the SPI may
 * adopt; until then they are documented here, not declared).
 */
export const LANGCHAIN_FEATURES: Readonly<Record<string, string>> = {
  'agent orchestration':
    'yes, through `streamRunnable()` and `streamGraph()`: LangGraph nodes become `agent-step` events, tools `tool-*` events',
};

/** The README's capability table: each SPI capability and when it is declared, then the features beyond it. */
export function capabilityTable(): string {
  const rows = AGENT_CAPABILITIES.map(
    (capability) => `| \`${capability}\` | ${LANGCHAIN_CAPABILITY_RULES[capability]} |`,
  );
  const features = Object.entries(LANGCHAIN_FEATURES).map(([name, how]) => `| ${name} | ${how} |`);
  return [
    '| Capability | Declared when |',
    '|---|---|',
    ...rows,
    '',
    '| Beyond the SPI vocabulary | Status |',
    '|---|---|',
    ...features,
  ].join('\n');
}
