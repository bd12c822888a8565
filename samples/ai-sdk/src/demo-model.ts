import type {
  LanguageModelV4,
  LanguageModelV4CallOptions,
  LanguageModelV4StreamPart,
} from '@ai-sdk/provider';

/** What the demo model says to anything but the weather. */
export const DEMO_ANSWER =
  'This is the demo model (set OPENAI_API_KEY or LLM_API_KEY for a real one): every token you see travelled over Atmosphere.';

function lastUserText(options: LanguageModelV4CallOptions): string {
  const user = [...options.prompt].reverse().find((message) => message.role === 'user');
  if (!user || typeof user.content === 'string') return '';
  return user.content.map((part) => (part.type === 'text' ? part.text : '')).join('');
}

function toolOutput(options: LanguageModelV4CallOptions): string | undefined {
  for (const message of [...options.prompt].reverse()) {
    if (message.role !== 'tool') continue;
    for (const part of message.content) {
      if (part.type !== 'tool-result') continue;
      const output = part.output;
      if (output.type === 'json') return JSON.stringify(output.value);
      if (output.type === 'text') return output.value;
      return undefined;
    }
  }
  return undefined;
}

/**
 * The demo model, clearly labelled: an AI SDK `LanguageModelV4` (the interface every provider implements) that
 * needs no key. Asked about the weather, it calls the `weather` tool (which asks for approval) and reports its
 * result; anything else gets {@link DEMO_ANSWER}, word by word.
 */
export function demoLanguageModel(options: { delayMs?: number } = {}): LanguageModelV4 {
  const delayMs = options.delayMs ?? 30;
  return {
    specificationVersion: 'v4',
    provider: 'atmosphere-demo',
    modelId: 'demo',
    supportedUrls: {},
    doGenerate: () => Promise.reject(new Error('The demo model only streams.')),
    doStream: async (call) => {
      const prompt = lastUserText(call);
      const afterTool = call.prompt.some((message) => message.role === 'tool');
      const parts: LanguageModelV4StreamPart[] = [{ type: 'stream-start', warnings: [] }];
      let reason: 'stop' | 'tool-calls' = 'stop';
      if (/weather/i.test(prompt) && !afterTool) {
        const city = /in ([A-Z][\w-]+)/.exec(prompt)?.[1] ?? 'Montreal';
        const input = JSON.stringify({ city });
        parts.push(
          { type: 'tool-input-start', id: 'demo-call-1', toolName: 'weather' },
          { type: 'tool-input-delta', id: 'demo-call-1', delta: input },
          { type: 'tool-input-end', id: 'demo-call-1' },
          { type: 'tool-call', toolCallId: 'demo-call-1', toolName: 'weather', input },
        );
        reason = 'tool-calls';
      } else {
        const output = afterTool ? toolOutput(call) : undefined;
        const text = afterTool
          ? output === undefined
            ? 'The weather could not be checked.'
            : `The weather tool says: ${output}.`
          : DEMO_ANSWER;
        parts.push({ type: 'text-start', id: 't' });
        for (const word of text.match(/\S+\s*/g) ?? [])
          parts.push({ type: 'text-delta', id: 't', delta: word });
        parts.push({ type: 'text-end', id: 't' });
      }
      const words = parts.length;
      parts.push({
        type: 'finish',
        usage: {
          inputTokens: {
            total: prompt.length,
            noCache: prompt.length,
            cacheRead: undefined,
            cacheWrite: undefined,
          },
          outputTokens: { total: words, text: words, reasoning: undefined },
        },
        finishReason: { unified: reason, raw: reason },
      });
      let index = 0;
      let timer: NodeJS.Timeout | undefined;
      return {
        stream: new ReadableStream<LanguageModelV4StreamPart>({
          async pull(controller) {
            const part = parts[index++];
            if (part === undefined) return controller.close();
            if (part.type === 'text-delta' && delayMs > 0)
              await new Promise((resolve) => (timer = setTimeout(resolve, delayMs)));
            if (call.abortSignal?.aborted) return controller.error(call.abortSignal.reason);
            controller.enqueue(part);
          },
          cancel: () => clearTimeout(timer),
        }),
      };
    },
  };
}
