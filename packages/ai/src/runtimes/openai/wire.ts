/** The parts of the OpenAI chat-completions wire format the built-in client uses (shared by Gemini and Ollama). */

export interface WireToolCall {
  readonly id: string;
  readonly type: 'function';
  readonly function: { readonly name: string; readonly arguments: string };
}

/** A part of a user message's content array (text, or an image as a `data:` URL: the bytes travel inline). */
export type WireContentPart =
  | { readonly type: 'text'; readonly text: string }
  | { readonly type: 'image_url'; readonly image_url: { readonly url: string } };

export type WireMessage =
  | { readonly role: 'system'; readonly content: string }
  | { readonly role: 'user'; readonly content: string | readonly WireContentPart[] }
  | {
      readonly role: 'assistant';
      readonly content: string | null;
      readonly tool_calls?: readonly WireToolCall[];
    }
  | { readonly role: 'tool'; readonly tool_call_id: string; readonly content: string };

export interface WireTool {
  readonly type: 'function';
  readonly function: {
    readonly name: string;
    readonly description: string;
    readonly parameters: Readonly<Record<string, unknown>>;
  };
}

export interface ChatCompletionRequest {
  readonly model: string;
  readonly messages: readonly WireMessage[];
  readonly stream: true;
  readonly stream_options?: { readonly include_usage: boolean };
  readonly tools?: readonly WireTool[];
  readonly response_format?:
    | { readonly type: 'json_object' }
    | {
        readonly type: 'json_schema';
        readonly json_schema: {
          readonly name: string;
          readonly schema: Readonly<Record<string, unknown>>;
          readonly strict?: boolean;
        };
      };
  /** Prompts with the same key share the provider's prompt cache (OpenAI). */
  readonly prompt_cache_key?: string;
  /** How long OpenAI keeps the cached prefix. */
  readonly prompt_cache_retention?: 'in_memory' | '24h';
  readonly [extra: string]: unknown;
}

export interface ChunkToolCallDelta {
  readonly index?: number;
  readonly id?: string;
  readonly type?: string;
  readonly function?: { readonly name?: string; readonly arguments?: string };
}

export interface ChunkChoice {
  readonly index?: number;
  readonly delta?: {
    readonly role?: string;
    readonly content?: string | null;
    /** Reasoning of DeepSeek, vLLM, Ollama and others. */
    readonly reasoning_content?: string | null;
    /** The same, as OpenRouter (and newer vLLM) name it. */
    readonly reasoning?: string | null;
    readonly refusal?: string | null;
    readonly tool_calls?: readonly ChunkToolCallDelta[];
  };
  readonly finish_reason?: string | null;
}

export interface ChunkUsage {
  readonly prompt_tokens?: number;
  readonly completion_tokens?: number;
  readonly total_tokens?: number;
  readonly prompt_tokens_details?: { readonly cached_tokens?: number } | null;
}

/** One `data:` payload of a streamed chat completion. */
export interface ChatCompletionChunk {
  readonly id?: string;
  readonly model?: string;
  readonly choices?: readonly ChunkChoice[];
  readonly usage?: ChunkUsage | null;
  /** Some providers report a failure inside the stream. */
  readonly error?: {
    readonly message?: string;
    readonly type?: string;
    readonly code?: string | number | null;
  };
}
