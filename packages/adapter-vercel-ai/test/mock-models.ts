import type {
  LanguageModelV4CallOptions,
  LanguageModelV4StreamPart,
  LanguageModelV4Usage,
} from '@ai-sdk/provider';
import { APICallError } from 'ai';
import { MockLanguageModelV4 } from 'ai/test';
import type { ChatImagePart } from '@atmosphere/ai/spi';

/** Usage as a provider reports it. */
export function usage(input: number, output: number, cached?: number): LanguageModelV4Usage {
  return {
    inputTokens: { total: input, noCache: input - (cached ?? 0), cacheRead: cached, cacheWrite: undefined },
    outputTokens: { total: output, text: output, reasoning: undefined },
  };
}

/** One model answer: text chunks (and optionally reasoning, sources, tool calls), then the finish part. */
export interface MockAnswer {
  readonly reasoning?: readonly string[];
  readonly text?: readonly string[];
  readonly sources?: readonly { readonly url: string; readonly title: string }[];
  readonly toolCalls?: readonly {
    readonly id: string;
    readonly name: string;
    readonly input: readonly string[];
  }[];
  /** Input, output and (optionally) cached input tokens. */
  readonly usage?: readonly [number, number, number?];
  /** Milliseconds between parts (the stream stops early when the call is aborted). */
  readonly delayMs?: number;
}

function partsOf(answer: MockAnswer): LanguageModelV4StreamPart[] {
  const parts: LanguageModelV4StreamPart[] = [{ type: 'stream-start', warnings: [] }];
  if (answer.reasoning) {
    parts.push({ type: 'reasoning-start', id: 'r1' });
    for (const delta of answer.reasoning) parts.push({ type: 'reasoning-delta', id: 'r1', delta });
    parts.push({ type: 'reasoning-end', id: 'r1' });
  }
  for (const [i, source] of (answer.sources ?? []).entries())
    parts.push({ type: 'source', sourceType: 'url', id: `s${i + 1}`, url: source.url, title: source.title });
  if (answer.text) {
    parts.push({ type: 'text-start', id: 't1' });
    for (const delta of answer.text) parts.push({ type: 'text-delta', id: 't1', delta });
    parts.push({ type: 'text-end', id: 't1' });
  }
  for (const call of answer.toolCalls ?? []) {
    parts.push({ type: 'tool-input-start', id: call.id, toolName: call.name });
    for (const delta of call.input) parts.push({ type: 'tool-input-delta', id: call.id, delta });
    parts.push({ type: 'tool-input-end', id: call.id });
    parts.push({ type: 'tool-call', toolCallId: call.id, toolName: call.name, input: call.input.join('') });
  }
  const [input, output, cached] = answer.usage ?? [10, 5];
  parts.push({
    type: 'finish',
    usage: usage(input, output, cached),
    finishReason:
      (answer.toolCalls?.length ?? 0) > 0
        ? { unified: 'tool-calls', raw: 'tool_calls' }
        : { unified: 'stop', raw: 'stop' },
  });
  return parts;
}

function streamOf(parts: LanguageModelV4StreamPart[], delayMs: number, signal: AbortSignal | undefined) {
  let index = 0;
  let timer: NodeJS.Timeout | undefined;
  return new ReadableStream<LanguageModelV4StreamPart>({
    pull(controller) {
      if (signal?.aborted) {
        controller.error(signal.reason);
        return;
      }
      const next = parts[index++];
      if (next === undefined) {
        controller.close();
        return;
      }
      if (delayMs === 0) {
        controller.enqueue(next);
        return;
      }
      return new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          controller.enqueue(next);
          resolve();
        }, delayMs);
      });
    },
    cancel() {
      clearTimeout(timer);
    },
  });
}

/**
 * A test model of the AI SDK (`MockLanguageModelV4` from `ai/test`) answering each call with the next scripted
 * answer; an `Error` in the script is thrown by that call.
 */
export function scriptedModel(
  script: readonly (MockAnswer | Error)[],
  provider = 'mock',
): MockLanguageModelV4 {
  let call = 0;
  return new MockLanguageModelV4({
    provider,
    modelId: 'mock-model',
    doStream: async (options: LanguageModelV4CallOptions) => {
      const answer = script[Math.min(call++, script.length - 1)];
      if (answer === undefined) throw new Error('the script is empty');
      if (answer instanceof Error) throw answer;
      return { stream: streamOf(partsOf(answer), answer.delayMs ?? 0, options.abortSignal) };
    },
  });
}

/** A non-retryable provider failure, as the SDK reports it. */
export function badRequest(): APICallError {
  return new APICallError({
    message: "Invalid value for 'model'.",
    url: 'http://127.0.0.1/v1/chat/completions',
    requestBodyValues: {},
    statusCode: 400,
    isRetryable: false,
  });
}

/** A retryable provider failure (HTTP 500), as the SDK reports it. */
export function serverError(): APICallError {
  return new APICallError({
    message: 'The server had an error while processing your request.',
    url: 'http://127.0.0.1/v1/chat/completions',
    requestBodyValues: {},
    statusCode: 500,
    isRetryable: true,
  });
}

/** The last prompt a mock model received, as `{ role, content }` with text content joined. */
export function lastPrompt(model: MockLanguageModelV4): { role: string; content: unknown }[] | undefined {
  const prompt = model.doStreamCalls.at(-1)?.prompt;
  return prompt?.map((message) => ({
    role: message.role,
    content:
      typeof message.content === 'string'
        ? message.content
        : message.content.map((part) => ('text' in part ? part.text : '')).join(''),
  }));
}

/**
 * The images of the last user message the model was called with, as the contract's images: the SDK hands them to
 * the provider as `file` parts (`mediaType`, and the tagged data: base64 text or bytes).
 */
export function lastImages(model: MockLanguageModelV4): ChatImagePart[] | undefined {
  const user = model.doStreamCalls.at(-1)?.prompt.findLast((message) => message.role === 'user');
  if (!user || typeof user.content === 'string') return undefined;
  return user.content.flatMap((part) => {
    if (part.type !== 'file') return [];
    // The provider gets tagged file data (`{ type: 'data', data }`): base64 text or bytes.
    const tagged = part.data as unknown as { type?: string; data?: unknown };
    const data = tagged.type === 'data' ? tagged.data : (part.data as unknown);
    const base64 =
      typeof data === 'string'
        ? data
        : data instanceof Uint8Array
          ? Buffer.from(data).toString('base64')
          : JSON.stringify(data);
    return [
      { type: 'image' as const, mediaType: part.mediaType as ChatImagePart['mediaType'], data: base64 },
    ];
  });
}

/**
 * The Anthropic cache breakpoints of the last call the mock model received, as the contract's received hint: how
 * many messages carry `providerOptions.anthropic.cacheControl`, and the retention (`ttl: '1h'` is long).
 * Undefined when none does.
 */
export function lastCacheBreakpoints(
  model: MockLanguageModelV4,
): { breakpoints: number; retention: 'short' | 'long' } | undefined {
  const prompt = model.doStreamCalls.at(-1)?.prompt ?? [];
  const controls = prompt.flatMap((message) => {
    const control = (
      message.providerOptions?.['anthropic'] as { cacheControl?: { ttl?: string } } | undefined
    )?.cacheControl;
    return control === undefined ? [] : [control];
  });
  if (controls.length === 0) return undefined;
  return {
    breakpoints: controls.length,
    retention: controls.every((c) => c.ttl === '1h') ? 'long' : 'short',
  };
}
