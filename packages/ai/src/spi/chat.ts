import type { ImageAttachment, ImageMediaType } from '@atmosphere/protocol';

/** Who said a message of a conversation. */
export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A tool call the model asked for, as kept in a conversation. `arguments` is the JSON text the model produced. */
export interface ChatToolCall {
  readonly id: string;
  readonly name: string;
  readonly arguments: string;
}

/**
 * An image given to the model with a message: its media type (`image/png`, `image/jpeg`, `image/webp`,
 * `image/gif`) and its bytes in standard base64 — never a URL, so no runtime fetches what a client names. The
 * same shape as a prompt's wire attachment (`@atmosphere/protocol`).
 */
export type ChatImagePart = ImageAttachment;
export type { ImageMediaType };

/** A part of a message besides its text (images, for now; runtimes that declare `vision` read them). */
export type ChatPart = ChatImagePart;

/** One message of a conversation, in the shape chat-completion APIs share. */
export interface ChatMessage {
  readonly role: ChatRole;
  /** The message's text (on a user message with `parts`, the text that goes with them; may be empty). */
  readonly content: string;
  /**
   * On user messages: what goes with the text, in order after it (images). Absent on text-only messages, so a
   * runtime that does not declare `vision` never has to look; the pipeline refuses parts for such a runtime.
   */
  readonly parts?: readonly ChatPart[];
  /** On assistant messages that asked for tools. */
  readonly toolCalls?: readonly ChatToolCall[];
  /** On tool messages: the call this is the result of. */
  readonly toolCallId?: string;
}

/**
 * Token counts of a run (summed over its model calls). Sent to clients as `metadata` frames
 * `ai.tokens.input`, `ai.tokens.output`, `ai.tokens.cached_input` and `ai.tokens.total`.
 */
export interface TokenUsage {
  readonly input?: number;
  readonly output?: number;
  readonly cachedInput?: number;
  readonly total?: number;
}

/** Adds two usages field by field (a field absent from both stays absent). */
export function addUsage(a: TokenUsage | undefined, b: TokenUsage | undefined): TokenUsage | undefined {
  if (a === undefined) return b;
  if (b === undefined) return a;
  const sum = (x: number | undefined, y: number | undefined): number | undefined =>
    x === undefined && y === undefined ? undefined : (x ?? 0) + (y ?? 0);
  const result: { input?: number; output?: number; cachedInput?: number; total?: number } = {};
  const input = sum(a.input, b.input);
  const output = sum(a.output, b.output);
  const cachedInput = sum(a.cachedInput, b.cachedInput);
  const total = sum(a.total, b.total);
  if (input !== undefined) result.input = input;
  if (output !== undefined) result.output = output;
  if (cachedInput !== undefined) result.cachedInput = cachedInput;
  if (total !== undefined) result.total = total;
  return result;
}
