import {
  addUsage,
  aiError,
  type AgentCapability,
  type AgentContext,
  type AgentRuntime,
  cancelledError,
  isAbortError,
  type StreamingSession,
  type TokenUsage,
  type Tool,
} from '@atmosphere/ai/spi';
import type { Availability } from '@atmosphere/runtime/spi';
import { BaseChatModel } from '@langchain/core/language_models/chat_models';
import { AIMessage, type AIMessageChunk, type BaseMessage, ToolMessage } from '@langchain/core/messages';
import { classifyModelError } from './errors.ts';
import { reasoningOf, textOf, toLangChainMessage, toTokenUsage } from './messages.ts';

/** Options of {@link langChainRuntime}. */
export interface LangChainRuntimeOptions {
  /** The chat model to run: any LangChain `BaseChatModel` (ChatOpenAI, ChatAnthropic, ChatGoogleGenerativeAI…). */
  readonly model: BaseChatModel;
  /** Default `langchain`. */
  readonly name?: string;
  /** Default 100: above the built-in runtime (0) and the demo model (-100). */
  readonly priority?: number;
  /**
   * How a structured answer is asked for: `native` (default) uses the model's `withStructuredOutput` with the
   * JSON Schema (the provider's JSON mode or a forced tool call) and sends the object as the answer's text;
   * `prompt` streams the answer like any other, relying on the JSON instruction in the system prompt.
   * A model without `bindTools` nor its own `withStructuredOutput` always uses `prompt`, and so does a prompt
   * with tools (the JSON answer comes after the tool loop).
   */
  readonly structuredOutput?: 'native' | 'prompt';
  /**
   * Whether the model reports `usage_metadata` (declares `token-usage`). Default: detected — true when the
   * model has `streamUsage` switched on (ChatOpenAI, ChatAnthropic…). Usage is forwarded whenever reported.
   */
  readonly reportsUsage?: boolean;
}

/** The runtime's default name and priority. */
export const LANGCHAIN_RUNTIME = Object.freeze({ name: 'langchain', priority: 100 });

type ToolBindable = BaseChatModel & Required<Pick<BaseChatModel, 'bindTools'>>;

function canBindTools(model: BaseChatModel): model is ToolBindable {
  return typeof model.bindTools === 'function';
}

/**
 * Whether the model takes OpenAI's prompt-cache call options (`promptCacheKey`, `promptCacheRetention`) and
 * sends them: ChatOpenAI (and AzureChatOpenAI) of @langchain/openai 1.x, which have the fields of the same name.
 * Other models would ignore the call options, so the runtime does not declare `prompt-caching` for them.
 */
function takesPromptCacheKey(model: BaseChatModel): boolean {
  return 'promptCacheKey' in model && 'promptCacheRetention' in model;
}

interface CallOptions {
  readonly signal: AbortSignal;
  readonly promptCacheKey?: string;
  readonly promptCacheRetention?: 'in_memory' | '24h';
}

/** The call options of one model call: the signal, and the prompt's caching hint where the model takes it. */
function callOptions(context: AgentContext, signal: AbortSignal, cacheable: boolean): CallOptions {
  const hint = cacheable ? context.promptCache : undefined;
  if (hint === undefined) return { signal };
  return {
    signal,
    ...(hint.key === undefined ? {} : { promptCacheKey: hint.key }),
    ...(hint.retention === undefined
      ? {}
      : { promptCacheRetention: hint.retention === 'long' ? '24h' : 'in_memory' }),
  };
}

/** The capabilities this model lets the runtime honour (see `LANGCHAIN_CAPABILITY_RULES`). */
export function detectCapabilities(
  model: BaseChatModel,
  options: Pick<LangChainRuntimeOptions, 'reportsUsage'> = {},
): ReadonlySet<AgentCapability> {
  const capabilities = new Set<AgentCapability>([
    'system-prompt',
    'conversation-memory',
    'structured-output',
    'reasoning-deltas',
    'vision',
    'cancellation',
  ]);
  if (model._streamResponseChunks !== BaseChatModel.prototype._streamResponseChunks)
    capabilities.add('text-streaming');
  if (canBindTools(model)) {
    capabilities.add('tool-calling');
    capabilities.add('tool-approval');
    capabilities.add('tool-call-deltas');
  }
  const streamUsage = (model as { streamUsage?: unknown }).streamUsage;
  if (options.reportsUsage ?? (streamUsage !== undefined && streamUsage !== false))
    capabilities.add('token-usage');
  // The hint is sent, and the cached input tokens come back in `usage_metadata`.
  if (takesPromptCacheKey(model) && capabilities.has('token-usage')) capabilities.add('prompt-caching');
  return capabilities;
}

interface RoundResult {
  /** The merged message of a round that asked for tools; undefined for a text answer. */
  readonly message: AIMessageChunk | undefined;
  readonly usage: TokenUsage | undefined;
}

/**
 * An {@link AgentRuntime} over a LangChain chat model (priority 100: it wins over the built-in runtime when
 * configured). Streams the answer's text (the model's reasoning as `reasoning-delta` events), binds the
 * context's tools with `bindTools` and forwards the model's `tool_call_chunks` as tool-call deltas, runs the tool loop through `context.runTool` (validation,
 * approvals, tool events: the same gate as every runtime), reports `usage_metadata` as usage, honours
 * structured output, sends the system prompt and the conversation's history, and passes the run's
 * `AbortSignal` to every model call so that cancelling aborts the request upstream.
 *
 * Ends the session itself (`complete` or `error`, once); never rejects.
 */
export class LangChainRuntime implements AgentRuntime {
  readonly name: string;
  readonly priority: number;
  readonly capabilities: ReadonlySet<AgentCapability>;
  readonly model: BaseChatModel;
  readonly #structuredOutput: 'native' | 'prompt';

  constructor(options: LangChainRuntimeOptions) {
    const candidate = options.model as unknown;
    if (
      candidate === null ||
      typeof candidate !== 'object' ||
      typeof (candidate as { stream?: unknown }).stream !== 'function'
    )
      throw aiError(
        'AI_FAILED',
        'langChainRuntime({ model }) needs a LangChain chat model (a BaseChatModel such as ChatOpenAI).',
      );
    this.model = options.model;
    this.name = options.name ?? LANGCHAIN_RUNTIME.name;
    this.priority = options.priority ?? LANGCHAIN_RUNTIME.priority;
    this.capabilities = detectCapabilities(options.model, options);
    const nativeStructured =
      canBindTools(options.model) ||
      options.model.withStructuredOutput !== BaseChatModel.prototype.withStructuredOutput;
    this.#structuredOutput = nativeStructured ? (options.structuredOutput ?? 'native') : 'prompt';
  }

  isAvailable(): Availability {
    return true;
  }

  async execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void> {
    session.metadata('ai.model', this.#modelName());
    const messages: BaseMessage[] = context.messages.map(toLangChainMessage);
    let usage: TokenUsage | undefined;
    const call = callOptions(context, signal, this.capabilities.has('prompt-caching'));
    try {
      // With tools, the answer comes after the tool loop: the JSON instruction of the system prompt asks for it.
      if (
        context.responseFormat !== undefined &&
        this.#structuredOutput === 'native' &&
        context.tools.length === 0
      ) {
        await this.#structured(context, messages, session, call);
      } else {
        const runnable = this.#bind(context.tools);
        for (let round = 1; ; round++) {
          const result = await this.#round(runnable, messages, session, call);
          usage = addUsage(usage, result.usage);
          const message = result.message;
          const calls = message ? [...(message.tool_calls ?? []), ...(message.invalid_tool_calls ?? [])] : [];
          if (calls.length === 0 || context.tools.length === 0) break;
          if (round >= context.maxToolRounds)
            throw aiError(
              'TOO_MANY_TOOL_ROUNDS',
              `The model still asked for tools after ${context.maxToolRounds} rounds; the answer was stopped (option maxToolRounds).`,
            );
          messages.push(
            new AIMessage({
              content: message?.content ?? '',
              tool_calls: message?.tool_calls ?? [],
              invalid_tool_calls: message?.invalid_tool_calls ?? [],
            }),
          );
          for (const [index, call] of calls.entries()) {
            const id = call.id ?? `call_${round}_${index}`;
            const outcome = await context.runTool(
              {
                id,
                name: call.name ?? '',
                arguments: toArgs(call.args),
              },
              signal,
            );
            messages.push(
              new ToolMessage({ content: outcome.content, tool_call_id: id, name: call.name ?? '' }),
            );
          }
          if (signal.aborted) throw cancelledError(signal.reason);
        }
      }
      if (signal.aborted) throw cancelledError(signal.reason);
      if (usage) session.usage(usage);
      session.complete();
    } catch (error) {
      if (signal.aborted || isAbortError(error)) session.error(cancelledError(signal.reason));
      else session.error(classifyModelError(error));
    }
  }

  #modelName(): string {
    const model = this.model as { model?: unknown; modelName?: unknown };
    if (typeof model.model === 'string') return model.model;
    if (typeof model.modelName === 'string') return model.modelName;
    return this.model._llmType();
  }

  #bind(tools: readonly Tool[]): ToolBindable | BaseChatModel | ReturnType<ToolBindable['bindTools']> {
    if (tools.length === 0) return this.model;
    if (!canBindTools(this.model))
      throw aiError(
        'AI_FAILED',
        `The LangChain model ${this.model._llmType()} cannot call tools (it has no bindTools()); remove the endpoint's tools or use a model that supports tool calling.`,
      );
    return this.model.bindTools(
      tools.map((tool) => ({
        name: tool.name,
        description: tool.description,
        schema: { ...tool.jsonSchema },
      })),
    );
  }

  async #round(
    runnable: { stream: BaseChatModel['stream'] },
    messages: readonly BaseMessage[],
    session: StreamingSession,
    call: CallOptions,
  ): Promise<RoundResult> {
    const chunks: AIMessageChunk[] = [];
    let calling = false;
    let usage: TokenUsage | undefined;
    // A tool call's id arrives on its first chunk only; later chunks carry its index.
    const idsByIndex = new Map<number, string>();
    const streamed = new Set<string>();
    const stream = await runnable.stream([...messages], call);
    for await (const chunk of stream) {
      // Kept, not merged: a text answer never needs the merged message (merging every chunk costs more than
      // the rest of the token's path); a tool round merges them once at the end.
      chunks.push(chunk);
      const reasoning = reasoningOf(chunk.content, chunk.additional_kwargs);
      if (reasoning !== '') session.emit({ event: 'reasoning-delta', data: { text: reasoning } });
      const text = textOf(chunk.content);
      if (text !== '') session.send(text);
      const parts = chunk.tool_call_chunks;
      if (parts !== undefined && parts.length > 0) {
        calling = true;
        for (const [position, part] of parts.entries()) {
          const index = part.index ?? position;
          if (part.id) idsByIndex.set(index, part.id);
          const id = idsByIndex.get(index) ?? `call_${index}`;
          if (part.args) {
            session.toolCallDelta(id, part.args);
            streamed.add(id);
          }
        }
      } else if (chunk.tool_calls !== undefined && chunk.tool_calls.length > 0) calling = true;
      if (chunk.usage_metadata !== undefined) usage = addUsage(usage, toTokenUsage(chunk.usage_metadata));
    }
    if (!calling) return { message: undefined, usage };
    let aggregate = chunks[0];
    for (let i = 1; i < chunks.length; i++) aggregate = aggregate?.concat(chunks[i] as AIMessageChunk);
    // Models that hand over whole tool calls (no chunks) still show their arguments as one delta.
    for (const call of aggregate?.tool_calls ?? [])
      if (call.id && !streamed.has(call.id)) session.toolCallDelta(call.id, JSON.stringify(call.args));
    return { message: aggregate, usage };
  }

  async #structured(
    context: AgentContext,
    messages: readonly BaseMessage[],
    session: StreamingSession,
    call: CallOptions,
  ): Promise<void> {
    const format = context.responseFormat;
    if (format === undefined) return;
    const runnable = this.model.withStructuredOutput(
      { ...format.jsonSchema, title: format.name },
      { name: format.name, method: 'jsonSchema' },
    );
    // Streamed rather than invoked: a streamed call never falls back to the provider's non-streaming path
    // (ChatOpenAI with `streaming: true` would estimate tokens with a downloaded tokenizer). The parser yields
    // partial objects as the JSON arrives; the last one is the answer.
    let entity: unknown;
    for await (const partial of await runnable.stream([...messages], call)) entity = partial;
    if (entity === undefined)
      throw aiError('STRUCTURED_OUTPUT_INVALID', 'The LangChain model gave no structured answer.');
    session.send(JSON.stringify(entity));
  }

  async close(): Promise<void> {
    // The model belongs to the application: nothing to release.
  }
}

function toArgs(args: unknown): Record<string, unknown> | string {
  if (args !== null && typeof args === 'object' && !Array.isArray(args))
    return args as Record<string, unknown>;
  return typeof args === 'string' ? args : JSON.stringify(args ?? {});
}

/**
 * A LangChain chat model as an Atmosphere agent runtime:
 * `createAtmosphere({ providers: [langChain({ model: new ChatOpenAI({ model: 'gpt-4o-mini' }) })] })`.
 */
export function langChainRuntime(options: LangChainRuntimeOptions): LangChainRuntime {
  return new LangChainRuntime(options);
}
