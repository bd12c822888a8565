import type { AgentRuntime } from '@atmosphere/ai/spi';
import type { Availability, Provider, ProviderContext } from '@atmosphere/runtime/spi';
import {
  GOOGLE_GENAI_RUNTIME,
  GoogleGenAiRuntime,
  type GoogleGenAiRuntimeOptions,
} from './google-genai-runtime.ts';

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

/** Options from `createAtmosphere({ settings: { 'agent-runtime': { geminiApiKey, geminiModel, geminiBaseUrl } } })`. */
function fromSettings(settings: Readonly<Record<string, unknown>>): GoogleGenAiRuntimeOptions {
  const apiKey = text(settings['geminiApiKey']);
  const model = text(settings['geminiModel']);
  const baseUrl = text(settings['geminiBaseUrl']);
  return {
    ...(apiKey === undefined ? {} : { apiKey }),
    ...(model === undefined ? {} : { model }),
    ...(baseUrl === undefined ? {} : { baseUrl }),
  };
}

function build(context: ProviderContext, options: GoogleGenAiRuntimeOptions): GoogleGenAiRuntime {
  return new GoogleGenAiRuntime({
    env: context.env,
    logger: context.logger,
    ...fromSettings(context.settings),
    ...options,
  });
}

/**
 * The Google GenAI runtime as a provider of kind `agent-runtime` (name `google-genai`, priority 100):
 * `createAtmosphere({ providers: [googleGenAi({ apiKey })] })`, or `googleGenAi({ client })` with a client the
 * application configured. Available with a client, a key in the options or the settings, or `GEMINI_API_KEY`
 * (`GOOGLE_API_KEY`); otherwise the reason names them.
 */
export function googleGenAi(options: GoogleGenAiRuntimeOptions = {}): Provider<'agent-runtime'> {
  return {
    kind: 'agent-runtime',
    name: options.name ?? GOOGLE_GENAI_RUNTIME.name,
    priority: options.priority ?? GOOGLE_GENAI_RUNTIME.priority,
    isAvailable: (context): Availability => build(context, options).isAvailable(),
    create: (context): AgentRuntime => build(context, options),
  };
}
