import { parseUntrustedJson } from '@atmosphere/protocol';

/** A prompt as it arrived from a client. */
export interface PromptMessage {
  readonly prompt: string;
  /** The JSON form's `metadata` object (empty for plain text). Untrusted: it comes from the client. */
  readonly metadata: Readonly<Record<string, unknown>>;
}

/** Room left for the JSON envelope and its metadata beyond the prompt's own limit. */
const ENVELOPE_ALLOWANCE = 16 * 1024;

/**
 * Reads a prompt message. Two forms are accepted:
 * - plain text: the whole message (trimmed) is the prompt;
 * - JSON `{"prompt":"…","metadata":{…}}`: used when the message is a JSON object with a `prompt` member
 *   (a JSON object without one is plain text, so a user may type `{braces}`).
 * Refuses an empty prompt, one longer than `maxLength` characters, a non-string `prompt` and non-object
 * `metadata`, with a message saying what to send instead.
 */
export function parsePromptMessage(
  text: string,
  maxLength: number,
): { ok: true; value: PromptMessage } | { ok: false; message: string } {
  if (text.length > maxLength + ENVELOPE_ALLOWANCE)
    return { ok: false, message: tooLong(text.length, maxLength) };
  const trimmed = text.trim();
  let prompt = trimmed;
  let metadata: Readonly<Record<string, unknown>> = {};
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
        return { ok: false, message: 'The JSON prompt must have a string "prompt" member: {"prompt":"…"}.' };
      const meta = record['metadata'];
      if (meta !== undefined && (typeof meta !== 'object' || meta === null || Array.isArray(meta))) {
        return { ok: false, message: 'The JSON prompt\'s "metadata" must be an object.' };
      }
      prompt = record['prompt'].trim();
      metadata = (meta as Record<string, unknown> | undefined) ?? {};
    }
  }
  if (prompt.length === 0)
    return { ok: false, message: 'The prompt is empty: send some text, or JSON {"prompt":"…"}.' };
  if (prompt.length > maxLength) return { ok: false, message: tooLong(prompt.length, maxLength) };
  return { ok: true, value: { prompt, metadata } };
}

function tooLong(length: number, max: number): string {
  return `The prompt has ${length} characters; the limit is ${max} (option maxPromptLength).`;
}
