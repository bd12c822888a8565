import { AGENT_CAPABILITIES, type AgentCapability } from '@atmosphere/ai/spi';
import { GOOGLE_GENAI_CAPABILITIES } from './google-genai-runtime.ts';

/** How the Google GenAI runtime honours each capability it declares (the README's table is generated from this). */
export const GOOGLE_GENAI_CAPABILITY_NOTES: Readonly<Record<AgentCapability, string>> = {
  'text-streaming': '`generateContentStream`: each chunk\'s text parts as they arrive (thought summaries as `reasoning-delta`)',
  'system-prompt': '`config.systemInstruction`',
  'conversation-memory': 'the history as `user` / `model` contents before the prompt',
  'tool-calling': 'Atmosphere tools as `functionDeclarations` (`parametersJsonSchema`); `functionCall` parts run, `functionResponse` parts sent back',
  'tool-approval': 'every call goes through the shared tool runner (`context.runTool`)',
  'structured-output': '`responseMimeType: application/json` with `responseJsonSchema` (or `responseSchema`)',
  'token-usage': '`usageMetadata`: prompt, candidates + thoughts, cached content, total',
  cancellation: '`config.abortSignal`: the HTTP request is aborted',
};

/** The capability table of the README: every SPI capability, declared or not, and how. */
export function capabilityTable(): string {
  const rows = AGENT_CAPABILITIES.map(
    (capability) =>
      `| \`${capability}\` | ${GOOGLE_GENAI_CAPABILITIES.has(capability) ? 'yes' : 'no'} | ${GOOGLE_GENAI_CAPABILITY_NOTES[capability]} |`,
  );
  return ['| Capability | Declared | How |', '|---|---|---|', ...rows].join('\n');
}
