import type { ChatMessage, TokenUsage, Tool } from '@atmosphere/ai/spi';
import type { Content, FunctionDeclaration, GenerateContentResponseUsageMetadata, Part } from '@google/genai';

/**
 * The conversation as Gemini contents: user and model turns (a user message's images as `inlineData` parts after
 * its text); tool results as `functionResponse` parts.
 */
export function toContents(messages: readonly ChatMessage[]): Content[] {
  const contents: Content[] = [];
  const names = new Map<string, string>();
  for (const message of messages) {
    switch (message.role) {
      case 'system':
        break; // sent as the system instruction
      case 'user':
        contents.push({
          role: 'user',
          parts: [
            { text: message.content },
            // Images inline, bytes and all (`vision`): the API is never given a URL to fetch.
            ...(message.parts ?? []).map((part) => ({
              inlineData: { mimeType: part.mediaType, data: part.data },
            })),
          ],
        });
        break;
      case 'assistant': {
        const parts: Part[] = message.content === '' ? [] : [{ text: message.content }];
        for (const call of message.toolCalls ?? []) {
          names.set(call.id, call.name);
          parts.push({ functionCall: { id: call.id, name: call.name, args: parseArgs(call.arguments) } });
        }
        contents.push({ role: 'model', parts });
        break;
      }
      case 'tool': {
        const id = message.toolCallId ?? '';
        const part: Part = {
          functionResponse: { id, name: names.get(id) ?? id, response: { output: message.content } },
        };
        const last = contents.at(-1);
        // Results of one turn's calls travel together in one user turn.
        if (last?.role === 'user' && last.parts?.every((p) => p.functionResponse !== undefined))
          last.parts.push(part);
        else contents.push({ role: 'user', parts: [part] });
        break;
      }
    }
  }
  return contents;
}

function parseArgs(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

/** Atmosphere tools as Gemini function declarations (their JSON Schema as `parametersJsonSchema`). */
export function toFunctionDeclarations(tools: readonly Tool[]): FunctionDeclaration[] {
  return tools.map((tool) => ({
    name: tool.name,
    description: tool.description,
    parametersJsonSchema: tool.jsonSchema,
  }));
}

/** Gemini's usage metadata as Atmosphere token counts (thinking tokens count as output). */
export function toTokenUsage(
  usage: GenerateContentResponseUsageMetadata | undefined,
): TokenUsage | undefined {
  if (usage === undefined) return undefined;
  const result: { input?: number; output?: number; cachedInput?: number; total?: number } = {};
  if (typeof usage.promptTokenCount === 'number') result.input = usage.promptTokenCount;
  const output = (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
  if (usage.candidatesTokenCount !== undefined || usage.thoughtsTokenCount !== undefined)
    result.output = output;
  if (typeof usage.cachedContentTokenCount === 'number') result.cachedInput = usage.cachedContentTokenCount;
  if (typeof usage.totalTokenCount === 'number') result.total = usage.totalTokenCount;
  return Object.keys(result).length === 0 ? undefined : result;
}
