import { type AttachmentLimits, DEFAULT_ATTACHMENT_LIMITS } from '@atmosphere/protocol';
import { AtmosphereError } from '@atmosphere/runtime';

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
