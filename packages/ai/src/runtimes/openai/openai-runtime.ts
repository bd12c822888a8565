import type { Availability, Logger } from '@atmosphere/runtime/spi';
import { aiError, cancelledError, isAbortError } from '../../errors.ts';
import type { AgentCapability, AgentContext, AgentRuntime } from '../../spi/agent-runtime.ts';
import type { ChatMessage, ChatPart, TokenUsage } from '../../spi/chat.ts';
import type { StreamingSession } from '../../streaming/streaming-session.ts';
import { type LlmConfig, type LlmConfigInput, resolveLlmConfig } from './config.ts';
import { OpenAiCompatibleClient, type OpenAiClientOptions } from './openai-client.ts';
import type {
  ChatCompletionChunk,
  ChatCompletionRequest,
  ChunkUsage,
  WireContentPart,
  WireMessage,
  WireTool,
  WireToolCall,
} from './wire.ts';

/** Options of the built-in runtime. Explicit values win over `env` (default `process.env`). */
export interface OpenAiRuntimeOptions
  extends LlmConfigInput, Omit<OpenAiClientOptions, 'baseUrl' | 'apiKey'> {
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Default `built-in`. */
  readonly name?: string;
  /** Default 0. */
  readonly priority?: number;
  /** How to ask for JSON with structured output: `json_schema` (default), `json_object`, or `none` (prompt only). */
  readonly jsonMode?: 'json_schema' | 'json_object' | 'none';
  /** Ask for the usage chunk (`stream_options.include_usage`). Default true. */
  readonly includeUsage?: boolean;
  readonly temperature?: number;
  readonly maxTokens?: number;
}

const CAPABILITIES: ReadonlySet<AgentCapability> = new Set<AgentCapability>([
  'text-streaming',
  'system-prompt',
  'conversation-memory',
  'tool-calling',
  'tool-approval',
  'tool-call-deltas',
  'reasoning-deltas',
  'vision',
  'structured-output',
  'token-usage',
  'cancellation',
  'per-request-retry',
  'prompt-caching',
]);

interface PendingCall {
  id: string;
  name: string;
  arguments: string;
}

interface RoundResult {
  text: string;
  calls: PendingCall[];
  usage: TokenUsage | undefined;
}

/**
 * The built-in runtime (priority 0): an OpenAI-compatible chat-completions client over `fetch`. Streams text
 * (reasoning, `delta.reasoning_content` or `delta.reasoning`, as `reasoning-delta` events), accumulates tool-call deltas by index, runs a tool loop of at most `context.maxToolRounds` (5) rounds, reports
 * usage (cached input tokens included), sends the prompt's caching hint (`prompt-caching`: `prompt_cache_key`,
 * `prompt_cache_retention`), sends images (`vision`: `image_url` parts with `data:` URLs), retries (the prompt's `context.retry`, else the `retry` option) and classifies provider errors. Works with OpenAI, Gemini's OpenAI endpoint and Ollama.
 */
export class OpenAiCompatibleRuntime implements AgentRuntime {
  readonly name: string;
  readonly priority: number;
  readonly capabilities = CAPABILITIES;
  readonly config: LlmConfig;
  readonly client: OpenAiCompatibleClient;
  readonly #options: OpenAiRuntimeOptions;
  readonly #logger: Logger | undefined;

  constructor(options: OpenAiRuntimeOptions = {}) {
    this.#options = options;
    this.name = options.name ?? 'built-in';
    this.priority = options.priority ?? 0;
    this.#logger = options.logger;
    this.config = resolveLlmConfig(options.env ?? process.env, options);
    this.client = new OpenAiCompatibleClient({
      ...options,
      baseUrl: this.config.baseUrl,
      apiKey: this.config.apiKey,
    });
  }

  async isAvailable(): Promise<Availability> {
    const config = this.config;
    if (config.mode === 'fake') return { available: false, reason: 'LLM_MODE=fake selects the demo model' };
    if (config.mode === 'remote' && !config.apiKey) {
      return {
        available: false,
        reason: `no API key for ${config.model} at ${config.baseUrl}: set LLM_API_KEY (or OPENAI_API_KEY / GEMINI_API_KEY), or LLM_MODE=local for Ollama`,
      };
    }
    if (config.mode === 'local') {
      try {
        const response = await (this.#options.fetch ?? fetch)(`${config.baseUrl}/models`, {
          signal: AbortSignal.timeout(1_500),
        });
        await response.arrayBuffer();
      } catch {
        return {
          available: false,
          reason: `no local model server answers at ${config.baseUrl}: start \`ollama serve\`, or set LLM_BASE_URL`,
        };
      }
    }
    return true;
  }

  async execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void> {
    const model = context.model ?? this.config.model;
    session.metadata('ai.model', model);
    const messages: WireMessage[] = context.messages.map(toWireMessage);
    const tools: WireTool[] = context.tools.map((t) => ({
      type: 'function',
      function: { name: t.name, description: t.description, parameters: t.jsonSchema },
    }));
    try {
      for (let round = 1; ; round++) {
        const request = this.#request(model, messages, tools, context);
        const result = await this.#round(request, session, signal, context.retry?.maxRetries);
        // Each call's counts as soon as it ends: a stop during a later call still reports them.
        if (result.usage) session.usage(result.usage);
        if (result.calls.length === 0) {
          // A model-call boundary: guidance sent while it answered gets one more call (within the rounds).
          if (signal.aborted || !context.steering?.pending || round >= context.maxToolRounds) break;
          if (result.text !== '') messages.push({ role: 'assistant', content: result.text });
          for (const guidance of context.steering.take()) messages.push({ role: 'user', content: guidance });
          continue;
        }
        if (round >= context.maxToolRounds) {
          throw aiError(
            'TOO_MANY_TOOL_ROUNDS',
            `The model still asked for tools after ${context.maxToolRounds} rounds; the answer was stopped (option maxToolRounds).`,
          );
        }
        const toolCalls: WireToolCall[] = result.calls.map((call) => ({
          id: call.id,
          type: 'function',
          function: { name: call.name, arguments: call.arguments },
        }));
        messages.push({
          role: 'assistant',
          content: result.text === '' ? null : result.text,
          tool_calls: toolCalls,
        });
        for (const call of result.calls) {
          const outcome = await context.runTool(
            { id: call.id, name: call.name, arguments: call.arguments },
            signal,
          );
          messages.push({ role: 'tool', tool_call_id: call.id, content: outcome.content });
        }
        if (signal.aborted) throw cancelledError(signal.reason);
        // Between tool rounds: guidance sent meanwhile reaches the next call.
        if (context.steering?.pending)
          for (const guidance of context.steering.take()) messages.push({ role: 'user', content: guidance });
      }
      session.complete();
    } catch (error) {
      if (signal.aborted || isAbortError(error)) session.error(cancelledError(signal.reason));
      else session.error(error);
    }
  }

  #request(
    model: string,
    messages: readonly WireMessage[],
    tools: readonly WireTool[],
    context: AgentContext,
  ): ChatCompletionRequest {
    const options = this.#options;
    const format = context.responseFormat;
    const jsonMode = options.jsonMode ?? 'json_schema';
    return {
      model,
      messages,
      stream: true,
      ...((options.includeUsage ?? true) ? { stream_options: { include_usage: true } } : {}),
      ...(tools.length > 0 ? { tools } : {}),
      ...(format && jsonMode === 'json_schema'
        ? {
            response_format: {
              type: 'json_schema',
              json_schema: { name: format.name, schema: format.jsonSchema },
            },
          }
        : format && jsonMode === 'json_object'
          ? { response_format: { type: 'json_object' } }
          : {}),
      ...promptCacheFields(context),
      ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
      ...(options.maxTokens === undefined ? {} : { max_tokens: options.maxTokens }),
    };
  }

  async #round(
    request: ChatCompletionRequest,
    session: StreamingSession,
    signal: AbortSignal,
    maxRetries: number | undefined,
  ): Promise<RoundResult> {
    let text = '';
    let usage: ChunkUsage | undefined;
    const calls = new Map<number, PendingCall>();
    let lastIndex = -1;
    const options = maxRetries === undefined ? { signal } : { signal, maxRetries };
    for await (const chunk of this.client.stream(request, options)) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices?.[0];
      const delta = choice?.delta;
      if (!delta) continue;
      if (typeof delta.content === 'string' && delta.content.length > 0) {
        text += delta.content;
        session.send(delta.content);
      }
      // One of the two names, never both: a server sending both under either name sends the same text.
      const reasoning = delta.reasoning_content ?? delta.reasoning;
      if (typeof reasoning === 'string' && reasoning.length > 0)
        session.emit({ event: 'reasoning-delta', data: { text: reasoning } });
      for (const part of delta.tool_calls ?? []) {
        // OpenAI numbers calls with `index`; some compatible servers omit it and send each call whole.
        let index = part.index;
        if (index === undefined)
          index =
            part.id !== undefined && ![...calls.values()].some((c) => c.id === part.id)
              ? calls.size
              : Math.max(0, lastIndex);
        lastIndex = index;
        let call = calls.get(index);
        if (!call) {
          call = { id: part.id ?? `call_${index}`, name: '', arguments: '' };
          calls.set(index, call);
        }
        if (part.id) call.id = part.id;
        const name = part.function?.name;
        if (name) call.name = call.name === '' || call.name === name ? name : call.name + name;
        const args = part.function?.arguments;
        if (args) {
          call.arguments += args;
          session.toolCallDelta(call.id, args);
        }
      }
    }
    return {
      text,
      calls: [...calls.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c),
      usage: toUsage(usage),
    };
  }

  async close(): Promise<void> {
    this.#logger?.debug(`agent runtime ${this.name} closed`);
  }
}

function toWireMessage(message: ChatMessage): WireMessage {
  switch (message.role) {
    case 'system':
      return { role: 'system', content: message.content };
    case 'user':
      return message.parts && message.parts.length > 0
        ? {
            role: 'user',
            content: [{ type: 'text', text: message.content }, ...message.parts.map(toWirePart)],
          }
        : { role: 'user', content: message.content };
    case 'assistant':
      return message.toolCalls && message.toolCalls.length > 0
        ? {
            role: 'assistant',
            content: message.content === '' ? null : message.content,
            tool_calls: message.toolCalls.map((c) => ({
              id: c.id,
              type: 'function',
              function: { name: c.name, arguments: c.arguments },
            })),
          }
        : { role: 'assistant', content: message.content };
    case 'tool':
      return { role: 'tool', tool_call_id: message.toolCallId ?? '', content: message.content };
  }
}

/** An image as chat completions take it: an `image_url` part whose URL is a `data:` URL of the bytes. */
function toWirePart(part: ChatPart): WireContentPart {
  return { type: 'image_url', image_url: { url: `data:${part.mediaType};base64,${part.data}` } };
}

/**
 * The prompt's caching hint as OpenAI's request fields: `prompt_cache_key`, and `prompt_cache_retention`
 * (`in_memory` or `24h`). Nothing without a hint, so servers that do not know the fields never see them.
 */
function promptCacheFields(
  context: AgentContext,
): Pick<ChatCompletionRequest, 'prompt_cache_key' | 'prompt_cache_retention'> {
  const hint = context.promptCache;
  if (hint === undefined) return {};
  return {
    ...(hint.key === undefined ? {} : { prompt_cache_key: hint.key }),
    ...(hint.retention === undefined
      ? {}
      : { prompt_cache_retention: hint.retention === 'long' ? '24h' : 'in_memory' }),
  };
}

function toUsage(usage: ChunkUsage | undefined): TokenUsage | undefined {
  if (!usage) return undefined;
  const result: { input?: number; output?: number; cachedInput?: number; total?: number } = {};
  if (typeof usage.prompt_tokens === 'number') result.input = usage.prompt_tokens;
  if (typeof usage.completion_tokens === 'number') result.output = usage.completion_tokens;
  const cached = usage.prompt_tokens_details?.cached_tokens;
  if (typeof cached === 'number') result.cachedInput = cached;
  if (typeof usage.total_tokens === 'number') result.total = usage.total_tokens;
  return result;
}

/** The built-in OpenAI-compatible runtime, configured from `options` and the environment. */
export function openAiRuntime(options: OpenAiRuntimeOptions = {}): OpenAiCompatibleRuntime {
  return new OpenAiCompatibleRuntime(options);
}

export type { ChatCompletionChunk };
