import type { ChatMessage, ChatPart, TokenUsage } from '@atmosphere/ai/spi';
import {
  AIMessage,
  type BaseMessage,
  HumanMessage,
  SystemMessage,
  ToolMessage,
  type UsageMetadata,
} from '@langchain/core/messages';

/**
 * An image as LangChain's standard base64 data block, which every provider integration converts to its own form
 * (ChatOpenAI an `image_url` data URL, ChatAnthropic a base64 `image` source, Google `inlineData`).
 */
function toImageBlock(part: ChatPart): {
  type: 'image';
  source_type: 'base64';
  mime_type: string;
  data: string;
} {
  return { type: 'image', source_type: 'base64', mime_type: part.mediaType, data: part.data };
}

/**
 * An Atmosphere conversation message as the LangChain message of the same role (a user message with images: a
 * text block, then one image block each).
 */
export function toLangChainMessage(message: ChatMessage): BaseMessage {
  switch (message.role) {
    case 'system':
      return new SystemMessage(message.content);
    case 'user':
      return message.parts && message.parts.length > 0
        ? new HumanMessage({
            content: [{ type: 'text', text: message.content }, ...message.parts.map(toImageBlock)],
          })
        : new HumanMessage(message.content);
    case 'assistant':
      return new AIMessage({
        content: message.content,
        tool_calls: (message.toolCalls ?? []).map((call) => ({
          id: call.id,
          name: call.name,
          args: parseArguments(call.arguments),
          type: 'tool_call' as const,
        })),
      });
    case 'tool':
      return new ToolMessage({ content: message.content, tool_call_id: message.toolCallId ?? '' });
  }
}

function parseArguments(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** LangChain's `usage_metadata` as Atmosphere token counts (undefined when the model reported none). */
export function toTokenUsage(usage: UsageMetadata | undefined): TokenUsage | undefined {
  if (usage === undefined) return undefined;
  const result: { input?: number; output?: number; cachedInput?: number; total?: number } = {};
  if (typeof usage.input_tokens === 'number') result.input = usage.input_tokens;
  if (typeof usage.output_tokens === 'number') result.output = usage.output_tokens;
  const cached = usage.input_token_details?.cache_read;
  if (typeof cached === 'number') result.cachedInput = cached;
  if (typeof usage.total_tokens === 'number') result.total = usage.total_tokens;
  return Object.keys(result).length === 0 ? undefined : result;
}

/** The text of a message chunk: its string content, or the text blocks of its content array. */
export function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  let text = '';
  for (const block of content as unknown[]) {
    if (typeof block === 'string') text += block;
    else if (
      block !== null &&
      typeof block === 'object' &&
      (block as { type?: unknown }).type === 'text' &&
      typeof (block as { text?: unknown }).text === 'string'
    )
      text += (block as { text: string }).text;
  }
  return text;
}

/**
 * The reasoning of a message chunk: its `reasoning` content blocks (LangChain's standard block, OpenAI's
 * Responses API) and Anthropic's `thinking` blocks; without those, `additional_kwargs.reasoning_content`
 * (DeepSeek, OpenAI-compatible servers through ChatOpenAI, Ollama, xAI, OpenRouter). Empty when there is none.
 */
export function reasoningOf(
  content: unknown,
  additional: Readonly<Record<string, unknown>> | undefined,
): string {
  let reasoning = '';
  if (Array.isArray(content)) {
    for (const block of content as unknown[]) {
      if (block === null || typeof block !== 'object') continue;
      const { type } = block as { type?: unknown };
      const text =
        type === 'reasoning'
          ? (block as { reasoning?: unknown }).reasoning
          : type === 'thinking'
            ? (block as { thinking?: unknown }).thinking
            : undefined;
      if (typeof text === 'string') reasoning += text;
    }
  }
  if (reasoning !== '') return reasoning;
  const flat = additional?.['reasoning_content'];
  return typeof flat === 'string' ? flat : '';
}
