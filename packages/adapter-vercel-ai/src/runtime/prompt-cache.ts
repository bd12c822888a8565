import type { PromptCacheHint } from '@atmosphere/ai/spi';
import type { LanguageModel, ModelMessage, streamText, SystemModelMessage } from 'ai';

type ProviderOptions = NonNullable<Parameters<typeof streamText>[0]['providerOptions']>;

/**
 * How a prompt's caching hint reaches the model's provider:
 * - `openai` (`@ai-sdk/openai`, `@ai-sdk/azure`): the provider options `openai.promptCacheKey` and
 *   `openai.promptCacheRetention` (`in_memory` or `24h`), which it sends as `prompt_cache_key` and
 *   `prompt_cache_retention`;
 * - `anthropic` (`@ai-sdk/anthropic`, Anthropic models on Bedrock or Vertex through it): cache breakpoints,
 *   `anthropic.cacheControl` (`ephemeral`, with `ttl: '1h'` for a long retention) on the system prompt and on
 *   the last message of the history (Anthropic has no key: the key is not sent);
 * - `openai-compatible` (`@ai-sdk/openai-compatible` and providers built on it): `prompt_cache_key` and
 *   `prompt_cache_retention` in the request body, through the provider options under the provider's name;
 * - `none`: not sent (the runtime does not declare `prompt-caching`).
 */
export type PromptCacheForm = 'openai' | 'anthropic' | 'openai-compatible' | 'none';

/** The form a model's provider takes, from its provider id (`openai.chat`, `anthropic.messages`…). */
export function promptCacheFormOf(model: LanguageModel): PromptCacheForm {
  if (typeof model === 'string') return 'none';
  const provider = model.provider;
  if (provider.startsWith('openai.') || provider.startsWith('azure.')) return 'openai';
  if (provider.startsWith('anthropic.')) return 'anthropic';
  return 'none';
}

/** What a prompt's hint changes in a `streamText` call. */
export interface PromptCacheCall {
  /** The call's provider options, the hint's merged in (the prompt's hint wins over the runtime's options). */
  readonly providerOptions: ProviderOptions | undefined;
  /** The system prompt, as a message carrying a breakpoint when the form has them. */
  readonly system: string | SystemModelMessage | undefined;
  /** The conversation, its last history message carrying a breakpoint when the form has them. */
  readonly messages: ModelMessage[];
}

/**
 * Applies a prompt's caching hint to a `streamText` call in the provider's form. `historyLength` is how many of
 * `messages` come before the prompt (the stable prefix ends with the last of them).
 */
export function applyPromptCache(
  form: PromptCacheForm,
  hint: PromptCacheHint | undefined,
  model: LanguageModel,
  call: {
    readonly providerOptions: ProviderOptions | undefined;
    readonly system: string | undefined;
    readonly messages: ModelMessage[];
    readonly historyLength: number;
  },
): PromptCacheCall {
  const unchanged = { providerOptions: call.providerOptions, system: call.system, messages: call.messages };
  if (hint === undefined || form === 'none') return unchanged;
  const merge = (name: string, fields: Record<string, string>): ProviderOptions => ({
    ...call.providerOptions,
    [name]: { ...call.providerOptions?.[name], ...fields },
  });
  switch (form) {
    case 'openai':
      return {
        ...unchanged,
        providerOptions: merge('openai', {
          ...(hint.key === undefined ? {} : { promptCacheKey: hint.key }),
          ...(hint.retention === undefined
            ? {}
            : { promptCacheRetention: hint.retention === 'long' ? '24h' : 'in_memory' }),
        }),
      };
    case 'openai-compatible': {
      // Keys the provider does not know are copied into the request body as they are.
      const name = typeof model === 'string' ? 'openaiCompatible' : model.provider.split('.')[0]!.trim();
      return {
        ...unchanged,
        providerOptions: merge(name, {
          ...(hint.key === undefined ? {} : { prompt_cache_key: hint.key }),
          ...(hint.retention === undefined
            ? {}
            : { prompt_cache_retention: hint.retention === 'long' ? '24h' : 'in_memory' }),
        }),
      };
    }
    case 'anthropic': {
      const breakpoint = {
        anthropic: {
          cacheControl: { type: 'ephemeral', ...(hint.retention === 'long' ? { ttl: '1h' } : {}) },
        },
      };
      const messages = [...call.messages];
      const last = messages[call.historyLength - 1];
      if (last !== undefined)
        messages[call.historyLength - 1] = {
          ...last,
          providerOptions: { ...last.providerOptions, ...breakpoint },
        };
      return {
        providerOptions: call.providerOptions,
        system:
          call.system === undefined
            ? undefined
            : { role: 'system', content: call.system, providerOptions: breakpoint },
        messages,
      };
    }
  }
}
