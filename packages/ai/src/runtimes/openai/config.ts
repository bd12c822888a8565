import { AtmosphereError } from '@atmosphere/runtime';

/** `remote`: a hosted API (key required); `local`: Ollama on this machine; `fake`: the demo model. */
export type LlmMode = 'remote' | 'local' | 'fake';

/** Where the model configuration comes from: explicit options beat `settings`, which beat the environment. */
export interface LlmConfigInput {
  readonly mode?: LlmMode | undefined;
  readonly model?: string | undefined;
  readonly apiKey?: string | undefined;
  readonly baseUrl?: string | undefined;
}

/** The resolved configuration of the built-in client. */
export interface LlmConfig {
  readonly mode: LlmMode;
  readonly model: string;
  /** Never logged, never sent to clients. */
  readonly apiKey: string | undefined;
  /** Which variable the key came from (for messages; never the key itself). */
  readonly apiKeySource: string | undefined;
  readonly baseUrl: string;
  /** The provider family guessed from the base URL, for messages. */
  readonly provider: 'openai' | 'gemini' | 'ollama' | 'custom';
}

export const DEFAULT_MODEL = 'gemini-2.5-flash';
/** Ollama's default when `LLM_MODE=local` and no model is named. */
export const DEFAULT_LOCAL_MODEL = 'llama3.2';
export const OLLAMA_BASE_URL = 'http://127.0.0.1:11434/v1';
export const OPENAI_BASE_URL = 'https://api.openai.com/v1';
export const GEMINI_BASE_URL = 'https://generativelanguage.googleapis.com/v1beta/openai';

type Env = Readonly<Record<string, string | undefined>>;

function nonEmpty(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed : undefined;
}

/** The base URL a model name implies: OpenAI for `gpt-*`, `o1*`, `o3*`, `o4*`; Gemini otherwise. */
export function baseUrlForModel(model: string, mode: LlmMode): string {
  if (mode === 'local') return OLLAMA_BASE_URL;
  if (/^(gpt-|o1|o3|o4|chatgpt-)/i.test(model)) return OPENAI_BASE_URL;
  return GEMINI_BASE_URL;
}

function providerOf(baseUrl: string): LlmConfig['provider'] {
  if (baseUrl.startsWith(OPENAI_BASE_URL)) return 'openai';
  if (baseUrl.startsWith(GEMINI_BASE_URL)) return 'gemini';
  if (/:11434(\/|$)/.test(baseUrl)) return 'ollama';
  return 'custom';
}

/**
 * Reads the configuration the way Atmosphere's Java modules do: `LLM_MODE` (remote | local | fake, default
 * remote), `LLM_MODEL` (default gemini-2.5-flash; llama3.2 in local mode), `LLM_API_KEY` (else
 * `OPENAI_API_KEY`, else `GEMINI_API_KEY`), `LLM_BASE_URL` (else implied by the mode and model name).
 * `input` values win over the environment. Throws `INVALID_OPTION` for an unknown mode or a bad base URL.
 */
export function resolveLlmConfig(env: Env, input: LlmConfigInput = {}): LlmConfig {
  const rawMode = input.mode ?? nonEmpty(env['LLM_MODE'])?.toLowerCase() ?? 'remote';
  if (rawMode !== 'remote' && rawMode !== 'local' && rawMode !== 'fake') {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `LLM_MODE must be remote, local or fake; got ${JSON.stringify(rawMode)}.`,
    );
  }
  const mode: LlmMode = rawMode;
  const model =
    nonEmpty(input.model) ??
    nonEmpty(env['LLM_MODEL']) ??
    (mode === 'local' ? DEFAULT_LOCAL_MODEL : DEFAULT_MODEL);
  let apiKey: string | undefined;
  let apiKeySource: string | undefined;
  if (nonEmpty(input.apiKey)) {
    apiKey = nonEmpty(input.apiKey);
    apiKeySource = 'the apiKey option';
  } else {
    for (const name of ['LLM_API_KEY', 'OPENAI_API_KEY', 'GEMINI_API_KEY']) {
      const value = nonEmpty(env[name]);
      if (value) {
        apiKey = value;
        apiKeySource = name;
        break;
      }
    }
  }
  const baseUrl = (
    nonEmpty(input.baseUrl) ??
    nonEmpty(env['LLM_BASE_URL']) ??
    baseUrlForModel(model, mode)
  ).replace(/\/+$/, '');
  try {
    const url = new URL(baseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new AtmosphereError(
      'INVALID_OPTION',
      `LLM_BASE_URL must be an http(s) URL; got ${JSON.stringify(baseUrl.slice(0, 200))}.`,
    );
  }
  return { mode, model, apiKey, apiKeySource, baseUrl, provider: providerOf(baseUrl) };
}
