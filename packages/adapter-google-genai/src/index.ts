/**
 * `@atmosphere/adapter-google-genai`: Gemini through `@google/genai` as an Atmosphere agent runtime
 * (`googleGenAi({ apiKey })`, priority 100): streaming, function calling with approvals, usage, system
 * instruction, structured output and cancellation. Your framework generates tokens; Atmosphere delivers them.
 */
export { GOOGLE_GENAI_CAPABILITY_NOTES, GOOGLE_GENAI_FEATURES } from './capabilities.ts';
export { DEFAULT_GEMINI_MODEL, GEMINI_API_KEY_ENV, GEMINI_MODEL_ENV, type GeminiConfig } from './config.ts';
export {
  GOOGLE_GENAI_CAPABILITIES,
  GOOGLE_GENAI_RUNTIME,
  type GoogleGenAiClientLike,
  GoogleGenAiRuntime,
  googleGenAiRuntime,
  type GoogleGenAiRuntimeOptions,
} from './google-genai-runtime.ts';
export { googleGenAi } from './provider.ts';
