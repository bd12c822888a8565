import { AGENT_CAPABILITIES, type AgentCapability } from '@atmosphere/ai/spi';
import { GOOGLE_GENAI_CAPABILITIES } from './google-genai-runtime.ts';

/** How the Google GenAI runtime honours each capability it declares (the README's table is generated from this). */
export const GOOGLE_GENAI_CAPABILITY_NOTES: Readonly<Record<AgentCapability, string>> = {
  'text-streaming':
    "`generateContentStream`: each chunk's text parts as they arrive (thought summaries as `reasoning-delta`)",
  'system-prompt': '`config.systemInstruction`',
  'conversation-memory': 'the history as `user` / `model` contents before the prompt',
  'tool-calling':
    'Atmosphere tools as `functionDeclarations` (`parametersJsonSchema`); `functionCall` parts run, `functionResponse` parts sent back',
  'tool-approval': 'every call goes through the shared tool runner (`context.runTool`)',
  'tool-call-deltas':
    'the Gemini API hands each `functionCall` over whole: one `ai.toolCall.delta.<id>` with all its arguments; on Vertex AI with `streamFunctionCallArguments: true`, each `partialArgs` piece becomes a delta as it arrives',
  'reasoning-deltas':
    '`thinkingConfig.includeThoughts`: thought-summary parts (`thought: true`) become `reasoning-delta` events, never answer text',
  vision:
    "a user message's images as `inlineData` parts (`mimeType`, base64 `data`) after its text, the bytes in the request",
  'structured-output': '`responseMimeType: application/json` with `responseJsonSchema` (or `responseSchema`)',
  'token-usage': '`usageMetadata`: prompt, candidates + thoughts, cached content, total',
  cancellation: '`config.abortSignal`: the HTTP request is aborted',
  'per-request-retry':
    "`context.retry.maxRetries` + 1 as the request's `httpOptions.retryOptions.attempts` (the SDK retries 408, 429 and 5xx before the stream starts); else the option `attempts` (default 2)",
  'prompt-caching':
    "a Gemini request takes no cache key or breakpoint — its implicit caching is automatic, and explicit caching names a cache made ahead (`caches.create`, `config.cachedContent`) that must hold the system instruction and tools itself; the prompt's hint is not sent (the pipeline warns once). Cached reads are reported: `cachedContentTokenCount` becomes `ai.tokens.cached_input`",
};

/**
 * Features beyond the SPI's capability vocabulary, and whether the adapter has them (the names the SPI may
 * adopt; until then they are documented here, not declared).
 */
export const GOOGLE_GENAI_FEATURES: Readonly<Record<string, string>> = {
  'agent orchestration': 'no',
};

/** Capabilities declared only with an option, and which. */
export const GOOGLE_GENAI_OPTIONAL_CAPABILITIES: Readonly<Partial<Record<AgentCapability, string>>> = {
  'reasoning-deltas': '`includeThoughts: true`',
};

function declared(capability: AgentCapability): string {
  if (GOOGLE_GENAI_CAPABILITIES.has(capability)) return 'yes';
  const option = GOOGLE_GENAI_OPTIONAL_CAPABILITIES[capability];
  return option === undefined ? 'no' : `with ${option}`;
}

/** The capability table of the README: every SPI capability, declared or not, and how; then the features beyond it. */
export function capabilityTable(): string {
  const rows = AGENT_CAPABILITIES.map(
    (capability) =>
      `| \`${capability}\` | ${declared(capability)} | ${GOOGLE_GENAI_CAPABILITY_NOTES[capability]} |`,
  );
  const features = Object.entries(GOOGLE_GENAI_FEATURES).map(([name, how]) => `| ${name} | ${how} |`);
  return [
    '| Capability | Declared | How |',
    '|---|---|---|',
    ...rows,
    '',
    '| Beyond the SPI vocabulary | Status |',
    '|---|---|',
    ...features,
  ].join('\n');
}
