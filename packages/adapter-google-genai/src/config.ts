/** The environment variables the runtime reads, in order. */
export const GEMINI_API_KEY_ENV = ['GEMINI_API_KEY', 'GOOGLE_API_KEY'] as const;
/** The environment variable naming the model. */
export const GEMINI_MODEL_ENV = 'GEMINI_MODEL';
/** The model used when neither the options nor `GEMINI_MODEL` name one. */
export const DEFAULT_GEMINI_MODEL = 'gemini-2.5-flash';

/** Where the runtime's key and model come from (explicit options win over the environment). */
export interface GeminiConfigInput {
  readonly apiKey?: string;
  readonly model?: string;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The resolved configuration: the key (if any), where it came from (for messages), the model. */
export interface GeminiConfig {
  readonly apiKey: string | undefined;
  readonly apiKeySource: string | undefined;
  readonly model: string;
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}

/** Resolves the key and model from the options, then the environment. */
export function resolveGeminiConfig(input: GeminiConfigInput): GeminiConfig {
  const env = input.env ?? {};
  let apiKey = text(input.apiKey);
  let apiKeySource = apiKey === undefined ? undefined : 'the apiKey option';
  for (const name of GEMINI_API_KEY_ENV) {
    if (apiKey !== undefined) break;
    apiKey = text(env[name]);
    if (apiKey !== undefined) apiKeySource = name;
  }
  return {
    apiKey,
    apiKeySource,
    model: text(input.model) ?? text(env[GEMINI_MODEL_ENV]) ?? DEFAULT_GEMINI_MODEL,
  };
}
