import {
  type AttachmentLimits,
  DEFAULT_ATTACHMENT_LIMITS,
  parseAttachments,
  parseUntrustedJson,
  type PromptAttachment,
} from '@atmosphere/protocol';

/** A prompt as it arrived from a client. */
export interface PromptMessage {
  readonly prompt: string;
  /** The JSON form's `attachments` (images), validated; empty for plain text. */
  readonly attachments: readonly PromptAttachment[];
  /** The JSON form's `metadata` object (empty for plain text). Untrusted: it comes from the client. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Room left for the JSON envelope and its metadata beyond the prompt's own limit. */
const ENVELOPE_ALLOWANCE = 16 * 1024;

/** The most characters the attachments of a prompt within these limits can take in its JSON text. */
function attachmentAllowance(limits: AttachmentLimits): number {
  if (limits.maxCount === 0) return 0;
  return Math.ceil(limits.maxTotalBytes / 3) * 4 + limits.maxCount * 256;
}

/**
 * Reads a prompt message. Two forms are accepted:
 * - plain text: the whole message (trimmed) is the prompt;
 * - JSON `{"prompt":"…","metadata":{…},"attachments":[…]}`: used when the message is a JSON object with a
 *   `prompt` member (a JSON object without one is plain text, so a user may type `{braces}`).
 * Refuses an empty prompt, one longer than `maxLength` characters, a non-string `prompt` and non-object
 * `metadata`, with a message saying what to send instead (`INVALID_PROMPT`); and attachments that
 * `parseAttachments` refuses within `limits` (`INVALID_ATTACHMENT`).
 */
export function parsePromptMessage(
  text: string,
  maxLength: number,
  limits: AttachmentLimits = DEFAULT_ATTACHMENT_LIMITS,
):
  | { ok: true; value: PromptMessage }
  | { ok: false; code: 'INVALID_PROMPT' | 'INVALID_ATTACHMENT'; message: string } {
  const invalid = (message: string) => ({ ok: false as const, code: 'INVALID_PROMPT' as const, message });
  if (text.length > maxLength + ENVELOPE_ALLOWANCE + attachmentAllowance(limits))
    return invalid(tooLong(text.length, maxLength));
  const trimmed = text.trim();
  let prompt = trimmed;
  let metadata: Readonly<Record<string, unknown>> = {};
  let attachments: readonly PromptAttachment[] = [];
  if (trimmed.startsWith('{') && trimmed.endsWith('}')) {
    let value: unknown;
    try {
      value = parseUntrustedJson(trimmed, 16);
    } catch {
      value = undefined; // not JSON: a plain-text prompt that happens to start with a brace
    }
    if (
      typeof value === 'object' &&
      value !== null &&
      !Array.isArray(value) &&
      Object.hasOwn(value, 'prompt')
    ) {
      const record = value as Record<string, unknown>;
      if (typeof record['prompt'] !== 'string')
        return invalid('The JSON prompt must have a string "prompt" member: {"prompt":"…"}.');
      const meta = record['metadata'];
      if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
        return invalid('The JSON prompt\'s "metadata" must be an object.');
      }
      if (record['attachments'] !== undefined) {
        const parsed = parseAttachments(record['attachments'], limits);
        if (!parsed.ok) return { ok: false, code: 'INVALID_ATTACHMENT', message: parsed.message };
        attachments = parsed.value;
      }
      prompt = record['prompt'].trim();
      metadata = (meta as Record<string, unknown> | undefined) ?? {};
    }
  }
  if (prompt.length === 0) return invalid('The prompt is empty: send some text, or JSON {"prompt":"…"}.');
  if (prompt.length > maxLength) return invalid(tooLong(prompt.length, maxLength));
  return { ok: true, value: { prompt, metadata, attachments } };
}

function tooLong(length: number, max: number): string {
  return `The prompt has ${length} characters; the limit is ${max} (option maxPromptLength).`;
}
