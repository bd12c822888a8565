import type { ChatMessage } from '@atmosphere/ai/spi';
import type { ModelMessage } from 'ai';

/** Parses a tool call's JSON arguments; text that is not a JSON object travels as `{ value }`. */
function argumentsOf(text: string): unknown {
  try {
    return text.trim() === '' ? {} : (JSON.parse(text) as unknown);
  } catch {
    return { value: text };
  }
}

/**
 * The conversation (history then prompt, no system message) as AI SDK model messages: a user message's images
 * as `image` parts (base64, with their media type) after its text. Tool results that an assistant message asked
 * for keep their tool names, so the SDK can pair them.
 */
export function toModelMessages(messages: readonly ChatMessage[]): ModelMessage[] {
  const names = new Map<string, string>();
  const result: ModelMessage[] = [];
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        continue;
      case 'user':
        result.push(
          message.parts && message.parts.length > 0
            ? {
                role: 'user',
                content: [
                  { type: 'text', text: message.content },
                  // Base64 text, never a URL: the SDK has nothing to download.
                  ...message.parts.map((part) => ({
                    type: 'image' as const,
                    image: part.data,
                    mediaType: part.mediaType,
                  })),
                ],
              }
            : { role: 'user', content: message.content },
        );
        continue;
      case 'assistant': {
        const calls = message.toolCalls ?? [];
        if (calls.length === 0) {
          result.push({ role: 'assistant', content: message.content });
          continue;
        }
        for (const call of calls) names.set(call.id, call.name);
        result.push({
          role: 'assistant',
          content: [
            ...(message.content === '' ? [] : [{ type: 'text' as const, text: message.content }]),
            ...calls.map((call) => ({
              type: 'tool-call' as const,
              toolCallId: call.id,
              toolName: call.name,
              input: argumentsOf(call.arguments),
            })),
          ],
        });
        continue;
      }
      case 'tool': {
        const id = message.toolCallId ?? '';
        result.push({
          role: 'tool',
          content: [
            {
              type: 'tool-result',
              toolCallId: id,
              toolName: names.get(id) ?? 'unknown',
              output: { type: 'text', value: message.content },
            },
          ],
        });
        continue;
      }
    }
  }
  return result;
}
