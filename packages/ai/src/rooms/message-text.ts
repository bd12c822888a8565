import { type AttachmentLimits, parseAttachments, type PromptAttachment } from '@atmosphere/protocol';

/**
 * The images of a room message's `data`: an object's `attachments` member, in the JSON prompt's form
 * (`[{ "type": "image", "mediaType": "image/png", "data": "<base64>" }]`), checked by `parseAttachments` within
 * `limits` (allow-listed media types, strict base64, the bytes' signature, count and sizes). None for any other
 * `data`; a refusal says what was wrong.
 */
export function roomMessageAttachments(
  data: unknown,
  limits: AttachmentLimits,
): { ok: true; value: readonly PromptAttachment[] } | { ok: false; message: string } {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return { ok: true, value: [] };
  const attachments = (data as Readonly<Record<string, unknown>>)['attachments'];
  if (attachments === undefined) return { ok: true, value: [] };
  return parseAttachments(attachments, limits);
}

/**
 * The text of a room message's `data`, as an AI member reads it: a string as it is, or the first string among
 * an object's `text`, `prompt`, `message` and `content` members (the shapes chat clients send). Anything else
 * (numbers, arrays, objects without text) has no text: `undefined`.
 */
export function roomMessageText(data: unknown): string | undefined {
  if (typeof data === 'string') return data;
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return undefined;
  const record = data as Readonly<Record<string, unknown>>;
  for (const key of TEXT_KEYS) {
    const value = record[key];
    if (typeof value === 'string') return value;
  }
  return undefined;
}

const TEXT_KEYS = ['text', 'prompt', 'message', 'content'] as const;
