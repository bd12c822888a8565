import { AtmosphereError } from '@atmosphere/runtime';
import type { PromptCacheHint } from '../spi/agent-runtime.ts';

/** The longest cache key (OpenAI refuses a longer `prompt_cache_key`). */
export const MAX_PROMPT_CACHE_KEY_LENGTH = 64;

// Control characters have no place in a key that travels in a JSON body and may appear in provider logs.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * What is wrong with a prompt-caching hint, or undefined when nothing is: the key must be a string of 1 to
 * {@link MAX_PROMPT_CACHE_KEY_LENGTH} characters without control characters, the retention `short` or `long`.
 */
export function promptCacheProblem(hint: PromptCacheHint): string | undefined {
  if (typeof hint !== 'object' || hint === null) return `must be an object; got ${String(hint)}`;
  const { key, retention } = hint;
  if (
    key !== undefined &&
    (typeof key !== 'string' ||
      key.length === 0 ||
      key.length > MAX_PROMPT_CACHE_KEY_LENGTH ||
      CONTROL.test(key))
  )
    return `\`key\` must be a string of 1 to ${MAX_PROMPT_CACHE_KEY_LENGTH} characters without control characters; got ${JSON.stringify(key)}`;
  if (retention !== undefined && retention !== 'short' && retention !== 'long')
    return `\`retention\` must be 'short' or 'long'; got ${JSON.stringify(retention)}`;
  return undefined;
}

/** Checks an option's caching hint: throws `INVALID_OPTION`, naming `where` (`aiEndpoint /ai/chat`), when it is bad. */
export function checkPromptCacheOption(hint: PromptCacheHint | undefined, where: string): void {
  const problem = hint === undefined ? undefined : promptCacheProblem(hint);
  if (problem !== undefined)
    throw new AtmosphereError('INVALID_OPTION', `${where}: \`promptCache\`: ${problem}.`);
}
