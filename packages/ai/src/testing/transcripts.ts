/** What {@link openAiTranscript} writes. */
export interface TranscriptSpec {
  /** Default `gpt-4o-mini-2024-07-18`. */
  readonly model?: string;
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
