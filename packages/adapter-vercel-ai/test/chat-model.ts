import type { LanguageModelV4CallOptions, LanguageModelV4StreamPart } from '@ai-sdk/provider';
import { MockLanguageModelV4 } from 'ai/test';
import { usage } from './mock-models.ts';

/** The answers of {@link chatModel}, by the prompt's first word. */
export const HELLO_CHUNKS = ['Hello', ' from', ' Atmosphere', '.'];
export const HELLO = HELLO_CHUNKS.join('');
export const WEATHER_AFTER = ['It is ', '21°C', ' in Montreal.'];
export const STORY_WORDS = Array.from({ length: 120 }, (_, i) => `word${i + 1} `);
export const STORY = STORY_WORDS.join('');

/** A gate the `story` answer waits on after its first `openAfter` words (tests open it). */
export interface StoryGate {
  /** Words sent before waiting. Default: no wait. */
  openAfter: number | undefined;
  open(): void;
  /** Milliseconds between words. */
  delayMs: number;
}

function lastUserText(options: LanguageModelV4CallOptions): string {
  const user = [...options.prompt].reverse().find((message) => message.role === 'user');
  if (!user || typeof user.content === 'string') return '';
  return user.content.map((part) => ('text' in part ? part.text : '')).join('');
}

function textParts(chunks: readonly string[]): LanguageModelV4StreamPart[] {
  return [
    { type: 'text-start', id: 't1' },
    ...chunks.map((delta): LanguageModelV4StreamPart => ({ type: 'text-delta', id: 't1', delta })),
    { type: 'text-end', id: 't1' },
  ];
}

const finish = (reason: 'stop' | 'tool-calls'): LanguageModelV4StreamPart => ({
  type: 'finish',
  usage: usage(20, 10),
  finishReason: { unified: reason, raw: reason },
});

/**
 * The AI SDK test model (`ai/test`) scripted as a small chat model: `hello…` streams {@link HELLO};
 * `weather…` calls the `weather` tool for Montreal, then answers with its result; `story…` streams
 * {@link STORY} word by word (`gate` slows it or holds it), for stop, reload and cut tests.
 */
export function chatModel(gate: StoryGate = { openAfter: undefined, open: () => undefined, delayMs: 0 }) {
  return new MockLanguageModelV4({
    provider: 'test',
    modelId: 'chat-model',
    doStream: async (options) => {
      const prompt = lastUserText(options).toLowerCase();
      const hasToolResult = options.prompt.some((message) => message.role === 'tool');
      let parts: LanguageModelV4StreamPart[];
      if (prompt.startsWith('weather') && !hasToolResult) {
        parts = [
          { type: 'tool-input-start', id: 'call_weather_1', toolName: 'weather' },
          { type: 'tool-input-delta', id: 'call_weather_1', delta: '{"city":' },
          { type: 'tool-input-delta', id: 'call_weather_1', delta: '"Montreal"}' },
          { type: 'tool-input-end', id: 'call_weather_1' },
          {
            type: 'tool-call',
            toolCallId: 'call_weather_1',
            toolName: 'weather',
            input: '{"city":"Montreal"}',
          },
          finish('tool-calls'),
        ];
      } else if (prompt.startsWith('weather')) {
        const denied = options.prompt.some(
          (message) =>
            message.role === 'tool' &&
            message.content.some((part) => part.type === 'tool-result' && part.output.type === 'error-text'),
        );
        parts = [
          ...textParts(denied ? ['I could not', ' check the weather.'] : WEATHER_AFTER),
          finish('stop'),
        ];
      } else if (prompt.startsWith('story')) {
        parts = [...textParts(STORY_WORDS), finish('stop')];
      } else {
        parts = [...textParts(HELLO_CHUNKS), finish('stop')];
      }
      parts.unshift({ type: 'stream-start', warnings: [] });
      const slow = prompt.startsWith('story');
      let index = 0;
      let words = 0;
      let timer: NodeJS.Timeout | undefined;
      let gateOpen: Promise<void> | undefined;
      return {
        stream: new ReadableStream<LanguageModelV4StreamPart>({
          async pull(controller) {
            if (options.abortSignal?.aborted) {
              controller.error(options.abortSignal.reason);
              return;
            }
            const next = parts[index++];
            if (next === undefined) {
              controller.close();
              return;
            }
            if (slow && next.type === 'text-delta') {
              if (gate.openAfter !== undefined && words === gate.openAfter) {
                gateOpen ??= new Promise<void>((resolve) => {
                  const opened = gate.open;
                  gate.open = () => {
                    opened();
                    resolve();
                  };
                  options.abortSignal?.addEventListener('abort', () => resolve(), { once: true });
                });
                await gateOpen;
              }
              words++;
              if (gate.delayMs > 0)
                await new Promise((resolve) => (timer = setTimeout(resolve, gate.delayMs)));
              if (options.abortSignal?.aborted) {
                controller.error(options.abortSignal.reason);
                return;
              }
            }
            controller.enqueue(next);
          },
          cancel() {
            clearTimeout(timer);
          },
        }),
      };
    },
  });
}
