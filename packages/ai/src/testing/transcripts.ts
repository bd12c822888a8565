import type { ContractCapabilityScenario, ContractScenario, ReceivedPromptCache } from './contract.ts';
import type { ReplayStep } from './replay-server.ts';
import type { ChatImagePart } from '../spi/chat.ts';

/** What {@link openAiTranscript} writes. */
export interface TranscriptSpec {
  /** Default `gpt-4o-mini-2024-07-18`. */
  readonly model?: string;
  /**
   * Reasoning streamed before the text, cut into chunks, as reasoning models of OpenAI-compatible APIs send it
   * (`delta.reasoning_content`: DeepSeek, vLLM, Ollama…).
   */
  readonly reasoning?: readonly string[];
  /** The text, already cut into the chunks the model would stream. */
  readonly text?: readonly string[];
  /** Tool calls, each with its arguments cut into streamed pieces. */
  readonly toolCalls?: readonly {
    readonly id: string;
    readonly name: string;
    readonly arguments: readonly string[];
  }[];
  /** Token counts for the final usage chunk; omit for no usage chunk. */
  readonly usage?: { readonly prompt: number; readonly completion: number; readonly cached?: number };
  /** End with `data: [DONE]`. Default true. */
  readonly done?: boolean;
}

/**
 * An OpenAI chat-completions stream (`text/event-stream`), chunk for chunk as the API sends it: a role chunk,
 * content or tool-call deltas (`index`, `id` and `function.name` on a call's first delta), a chunk with the
 * `finish_reason`, the usage chunk with empty `choices`, then `data: [DONE]`.
 */
export function openAiTranscript(spec: TranscriptSpec): string {
  const id = 'chatcmpl-replay0000000000000000000000';
  const model = spec.model ?? 'gpt-4o-mini-2024-07-18';
  const created = 1_741_569_952;
  const base = {
    id,
    object: 'chat.completion.chunk',
    created,
    model,
    service_tier: 'default',
    system_fingerprint: 'fp_06737a9306',
  };
  const lines: unknown[] = [];
  const choice = (delta: Record<string, unknown>, finish: string | null = null): unknown => ({
    ...base,
    choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }],
    usage: null,
  });
  const calls = spec.toolCalls ?? [];
  if (calls.length > 0) {
    calls.forEach((call, index) => {
      const first = { index, id: call.id, type: 'function', function: { name: call.name, arguments: '' } };
      lines.push(
        choice(
          index === 0
            ? { role: 'assistant', content: null, tool_calls: [first], refusal: null }
            : { tool_calls: [first] },
        ),
      );
      for (const piece of call.arguments)
        lines.push(choice({ tool_calls: [{ index, function: { arguments: piece } }] }));
    });
    lines.push(choice({}, 'tool_calls'));
  } else {
    lines.push(choice({ role: 'assistant', content: '', refusal: null }));
    for (const piece of spec.reasoning ?? []) lines.push(choice({ content: null, reasoning_content: piece }));
    for (const piece of spec.text ?? []) lines.push(choice({ content: piece }));
    lines.push(choice({}, 'stop'));
  }
  if (spec.usage) {
    const { prompt, completion, cached = 0 } = spec.usage;
    lines.push({
      ...base,
      choices: [],
      usage: {
        prompt_tokens: prompt,
        completion_tokens: completion,
        total_tokens: prompt + completion,
        prompt_tokens_details: { cached_tokens: cached, audio_tokens: 0 },
        completion_tokens_details: {
          reasoning_tokens: 0,
          audio_tokens: 0,
          accepted_prediction_tokens: 0,
          rejected_prediction_tokens: 0,
        },
      },
    });
  }
  let body = lines.map((line) => `data: ${JSON.stringify(line)}\n\n`).join('');
  if (spec.done ?? true) body += 'data: [DONE]\n\n';
  return body;
}

/** A chat-completions error body, as the API sends it. */
export function openAiErrorBody(message: string, type: string, code: string | null = null): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/**
 * The OpenAI chat-completions transcripts of every contract scenario (`agentRuntimeContract`), for runtimes that
 * read that wire format (the built-in one, and frameworks' OpenAI clients pointed at `startReplayServer`): text in
 * four chunks, a tool call whose arguments arrive in three pieces then the answer, the structured entity, a 400,
 * a long slow stream, reasoning (`reasoning_content`) before the text, two 500s before the text, the text again
 * for the image prompt (`vision`), and the text with 1 920 of 2 006 input tokens cached (`prompt-caching`). Fresh arrays
 * on every call.
 */
export function contractOpenAiSteps(): Record<ContractScenario | ContractCapabilityScenario, ReplayStep[]> {
  return {
    text: [
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['Hello', ' from the', ' contract', ' suite.'],
          usage: { prompt: 12, completion: 6 },
        }),
      },
    ],
    'tool-call': [
      {
        kind: 'sse',
        body: openAiTranscript({
          toolCalls: [
            { id: 'call_contract1', name: 'contract_echo', arguments: ['{"va', 'lue":', '"ping"}'] },
          ],
          usage: { prompt: 30, completion: 9 },
        }),
      },
      {
        kind: 'sse',
        body: openAiTranscript({ text: ['The echo', ' said pong.'], usage: { prompt: 50, completion: 5 } }),
      },
    ],
    structured: [
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['{"city":"Mont', 'real","cel', 'sius":21}'],
          usage: { prompt: 40, completion: 9 },
        }),
      },
    ],
    error: [
      {
        kind: 'http',
        status: 400,
        body: openAiErrorBody("Invalid value for 'model'.", 'invalid_request_error'),
      },
    ],
    slow: [
      {
        kind: 'sse',
        body: openAiTranscript({ text: Array.from({ length: 500 }, (_, i) => `word${i} `) }),
        delayMs: 20,
        pauseAfter: 3,
      },
    ],
    retry: [
      { kind: 'http', status: 500, body: openAiErrorBody('The server had an error.', 'server_error') },
      { kind: 'http', status: 500, body: openAiErrorBody('The server had an error.', 'server_error') },
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['Hello', ' from the', ' contract', ' suite.'],
          usage: { prompt: 12, completion: 6 },
        }),
      },
    ],
    vision: [
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['Hello', ' from the', ' contract', ' suite.'],
          usage: { prompt: 98, completion: 6 },
        }),
      },
    ],
    'prompt-caching': [
      {
        kind: 'sse',
        body: openAiTranscript({
          text: ['Hello', ' from the', ' contract', ' suite.'],
          usage: { prompt: 2006, completion: 6, cached: 1920 },
        }),
      },
    ],
    reasoning: [
      {
        kind: 'sse',
        body: openAiTranscript({
          model: 'deepseek-reasoner',
          reasoning: ['The suite asks', ' for a greeting;', ' a short one will do.'],
          text: ['Hello', ' from the', ' contract', ' suite.'],
          usage: { prompt: 14, completion: 20 },
        }),
      },
    ],
  };
}

const DATA_URL = /^data:(image\/[a-z]+);base64,(.*)$/s;

/**
 * The images of the last user message of a chat-completions request body, read back from its `image_url` parts
 * (`data:` URLs) — what the provider was sent, for a contract subject's `receivedImages`. An image URL that is
 * not a `data:` URL is reported with an empty `data` (it would not match). Undefined without a user message.
 */
export function openAiReceivedImages(body: Record<string, unknown> | undefined): ChatImagePart[] | undefined {
  const messages = body?.['messages'] as { role?: string; content?: unknown }[] | undefined;
  const user = messages?.findLast((m) => m.role === 'user');
  if (!user) return undefined;
  if (!Array.isArray(user.content)) return [];
  return (user.content as { type?: string; image_url?: { url?: string } }[])
    .filter((part) => part.type === 'image_url')
    .map((part) => {
      const match = DATA_URL.exec(part.image_url?.url ?? '');
      return {
        type: 'image',
        mediaType: (match?.[1] ?? 'image/png') as ChatImagePart['mediaType'],
        data: match?.[2] ?? '',
      };
    });
}

/**
 * The caching hint of a chat-completions request body (`prompt_cache_key`, `prompt_cache_retention`), for a
 * contract subject's `receivedPromptCache`; undefined when the body has neither.
 */
export function openAiReceivedPromptCache(
  body: Record<string, unknown> | undefined,
): ReceivedPromptCache | undefined {
  const key = body?.['prompt_cache_key'];
  const retention = body?.['prompt_cache_retention'];
  if (key === undefined && retention === undefined) return undefined;
  return {
    key: typeof key === 'string' ? key : undefined,
    retention: retention === '24h' ? 'long' : retention === 'in_memory' ? 'short' : undefined,
  };
}
