import { type AttachmentLimits, base64ByteLength, DEFAULT_ATTACHMENT_LIMITS } from '@atmosphere/protocol';
import { AtmosphereError } from '@atmosphere/runtime';
import type { ChatPart } from '../spi/chat.ts';

/**
 * The limits on a prompt's image attachments: the defaults, overridden by `options`. Throws `INVALID_OPTION`
 * (naming `where`, e.g. `aiEndpoint /ai/chat`) for a limit that is not an integer of 0 or more.
 */
export function attachmentLimits(
  options: Partial<AttachmentLimits> | undefined,
  where: string,
): AttachmentLimits {
  for (const [name, value] of Object.entries(options ?? {}))
    if (!(Number.isSafeInteger(value) && value >= 0))
      throw new AtmosphereError(
        'INVALID_OPTION',
        `${where}: \`attachments.${name}\` must be an integer of 0 or more; got ${String(value)}.`,
      );
  return { ...DEFAULT_ATTACHMENT_LIMITS, ...options };
}

/**
 * How many of `prompts`, from the first, fold into one prompt (`whileAnswering` `merge`, `debounce`): as many
 * as keep their images together within `limits` (count and total bytes) and their texts, joined by a blank
 * line, within `maxLength` characters. At least one: each was checked alone.
 */
export function foldableCount<T>(
  prompts: readonly T[],
  read: (prompt: T) => { readonly text: string; readonly parts: readonly ChatPart[] },
  limits: AttachmentLimits,
  maxLength = Number.POSITIVE_INFINITY,
): number {
  let count = 0;
  let images = 0;
  let bytes = 0;
  let length = 0;
  for (const prompt of prompts) {
    const { text, parts } = read(prompt);
    let size = 0;
    for (const part of parts) size += base64ByteLength(part.data);
    const joined = count === 0 ? text.length : length + 2 + text.length;
    if (
      count > 0 &&
      (images + parts.length > limits.maxCount || bytes + size > limits.maxTotalBytes || joined > maxLength)
    )
      break;
    count++;
    images += parts.length;
    bytes += size;
    length = joined;
  }
  return count;
}
