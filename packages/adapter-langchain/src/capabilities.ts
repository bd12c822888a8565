import { AGENT_CAPABILITIES, type AgentCapability } from '@atmosphere/ai/spi';

/** When the LangChain runtime declares each capability (the README's table is generated from this). */
export const LANGCHAIN_CAPABILITY_RULES: Readonly<Record<AgentCapability, string>> = {
  'text-streaming': 'the model streams (it implements `_streamResponseChunks`, as every provider integration does)',
  'system-prompt': 'always: the system message leads the messages sent to the model',
  'conversation-memory': 'always: the context\'s history is sent before the prompt',
  'tool-calling': 'the model has `bindTools` (tools bound as JSON Schema; `tool_call_chunks` forwarded as tool-call deltas)',
  'tool-approval': 'with `tool-calling`: every call goes through the shared tool runner (`context.runTool`)',
  'structured-output': 'always: `withStructuredOutput` (JSON Schema, native JSON mode where the model has one), or the prompt instruction with `structuredOutput: \'prompt\'`',
  'token-usage': 'the model reports `usage_metadata` (it has `streamUsage` on, or `reportsUsage: true` is given)',
  cancellation: 'always: the signal is passed to the model call, which aborts its request',
};

/** The rows of a capability table: each SPI capability, and when a runtime honours it. */
export function capabilityTable(rules: Readonly<Record<AgentCapability, string>>): string {
  const rows = AGENT_CAPABILITIES.map((capability) => `| \`${capability}\` | ${rules[capability]} |`);
  return ['| Capability | Declared when |', '|---|---|', ...rows].join('\n');
}
