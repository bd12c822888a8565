import {
  aiError,
  type AgentCapability,
  type AgentContext,
  type AgentRuntime,
  type StreamingSession,
  type TokenUsage,
} from '@atmosphere/ai/spi';
import type { Availability } from '@atmosphere/runtime/spi';
import {
  jsonSchema,
  type LanguageModel,
  type LanguageModelUsage,
  Output,
  stepCountIs,
  streamText,
  type TextStreamPart,
  type ToolSet,
} from 'ai';
import { classifyError } from './errors.ts';
import { toModelMessages } from './messages.ts';
import { applyPromptCache, type PromptCacheForm, promptCacheFormOf } from './prompt-cache.ts';
import { toSdkTools } from './tools.ts';

/** Options of {@link vercelAiRuntime}. */
export interface VercelAiRuntimeOptions {
  /**
   * Any AI SDK language model: a provider's model (`openai('gpt-4o-mini')`, `anthropic(…)`, a model of
   * `@ai-sdk/openai-compatible`), a test model of `ai/test`, or a model id string resolved by the SDK's global
   * provider (the AI Gateway by default).
   */
  readonly model: LanguageModel;
  /**
   * Resolves a model name an endpoint or interceptor asked for (`aiEndpoint({ model })`,
   * `AgentContext.model`). Without it, such a name is ignored and `model` answers.
   */
  readonly resolveModel?: (name: string) => LanguageModel;
  /**
   * AI SDK tools the model may call besides the endpoint's tools, run by the SDK's own tool loop (their calls
   * and results are reported as `tool-start` / `tool-result` events). Tools that need approval belong in the
   * endpoint's `tools` (through `aiSdkTools()`), where Atmosphere's approval gate asks the user: a tool here with
   * `needsApproval` is refused at construction.
   */
  readonly tools?: ToolSet;
  /** Default `vercel-ai`. */
  readonly name?: string;
  /** Default 100 (adapters win over the built-in runtime, 0). */
  readonly priority?: number;
  /** Retries of a failed model call (the SDK's `maxRetries`). Default 2. */
  readonly maxRetries?: number;
  readonly temperature?: number;
  readonly maxOutputTokens?: number;
  /** Passed to `streamText` as it is (provider-specific settings). */
  readonly providerOptions?: Parameters<typeof streamText>[0]['providerOptions'];
  /**
   * How a prompt's caching hint (`AgentContext.promptCache`) reaches the provider: `openai`, `anthropic`,
   * `openai-compatible` or `none` (see {@link PromptCacheForm}). Default: from the model's provider id —
   * `openai.*` and `azure.*` models take `openai`, `anthropic.*` models `anthropic`, others `none`. The runtime
   * declares `prompt-caching` unless the form is `none`.
   */
  readonly promptCache?: PromptCacheForm;
}

const CAPABILITIES: readonly AgentCapability[] = [
  'text-streaming',
  'system-prompt',
  'conversation-memory',
  'tool-calling',
  'tool-approval',
  'tool-call-deltas',
  'reasoning-deltas',
  'vision',
  'per-request-retry',
  'structured-output',
  'token-usage',
  'cancellation',
];

/** Metadata key naming the tool whose input starts streaming (`ai.toolCall.start.<id>` → tool name). */
export const TOOL_CALL_START_KEY = 'ai.toolCall.start.';
/** Metadata key marking the end of a tool call's streamed input (`ai.toolCall.end.<id>` → `true`). */
export const TOOL_CALL_END_KEY = 'ai.toolCall.end.';

function toUsage(usage: LanguageModelUsage): TokenUsage {
  const result: { input?: number; output?: number; cachedInput?: number; total?: number } = {};
  if (usage.inputTokens !== undefined) result.input = usage.inputTokens;
  if (usage.outputTokens !== undefined) result.output = usage.outputTokens;
  if (usage.inputTokenDetails.cacheReadTokens !== undefined)
    result.cachedInput = usage.inputTokenDetails.cacheReadTokens;
  const total =
    usage.totalTokens ??
    (usage.inputTokens !== undefined || usage.outputTokens !== undefined
      ? (usage.inputTokens ?? 0) + (usage.outputTokens ?? 0)
      : undefined);
  if (total !== undefined) result.total = total;
  return result;
}

function modelIdOf(model: LanguageModel): string {
  return typeof model === 'string' ? model : model.modelId;
}

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : { value };
}

/** What one run observed of the full stream. */
interface RunState {
  error: unknown;
  aborted: boolean;
  finishReason: string | undefined;
  usage: TokenUsage | undefined;
  steps: number;
  reasoning: Map<string, string>;
}

/**
 * An Atmosphere `AgentRuntime` over any AI SDK `LanguageModel`: each prompt is one `streamText` call whose full
 * stream becomes AI frames — text deltas (`streaming-text`), reasoning (`reasoning-delta`/`reasoning-complete`),
 * tool input start/delta/end (metadata `ai.toolCall.start|delta|end.<id>`), tool calls and results
 * (`tool-start`/`tool-result`/`tool-error`), sources (`citation`), step boundaries (`agent-step`), and the
 * finish with usage (`ai.tokens.*`). The SDK runs the tool loop (at most `maxToolRounds` rounds); the endpoint's
 * tools execute through `context.runTool`, Atmosphere's one gate for validation and approval. Structured output
 * uses the SDK's `Output.object` (JSON mode where the provider has it). Aborting the signal aborts the model
 * call; the session then ends `CANCELLED`.
 */
export class VercelAiRuntime implements AgentRuntime {
  readonly name: string;
  readonly priority: number;
  readonly capabilities: ReadonlySet<AgentCapability>;
  readonly model: LanguageModel;
  readonly #options: VercelAiRuntimeOptions;

  constructor(options: VercelAiRuntimeOptions) {
    if (options.model === undefined || options.model === null)
      throw new TypeError(
        'vercelAiRuntime needs a `model` (an AI SDK LanguageModel, e.g. openai("gpt-4o-mini")).',
      );
    for (const [name, sdkTool] of Object.entries(options.tools ?? {})) {
      if (sdkTool.needsApproval !== undefined && sdkTool.needsApproval !== false)
        throw new TypeError(
          `AI SDK tool "${name}" needs approval: pass it to the endpoint as aiEndpoint({ tools: aiSdkTools({ ${name} }) }) so Atmosphere's approval gate asks the user, not to vercelAiRuntime({ tools }).`,
        );
    }
    this.#options = options;
    this.model = options.model;
    this.name = options.name ?? 'vercel-ai';
    this.priority = options.priority ?? 100;
    const cacheable = (options.promptCache ?? promptCacheFormOf(options.model)) !== 'none';
    this.capabilities = new Set<AgentCapability>([
      ...CAPABILITIES,
      ...(cacheable ? (['prompt-caching'] as const) : []),
    ]);
  }

  isAvailable(): Availability {
    return true;
  }

  async execute(context: AgentContext, session: StreamingSession, signal: AbortSignal): Promise<void> {
    const options = this.#options;
    const model =
      context.model !== undefined && options.resolveModel ? options.resolveModel(context.model) : this.model;
    session.metadata('ai.model', modelIdOf(model));
    const atmosphereNames = new Set(context.tools.map((t) => t.name));
    const ran = new Set<string>();
    const seen = new Calls(signal);
    const tools: ToolSet = {
      ...options.tools,
      ...toSdkTools(
        context.tools,
        (call, s) => context.runTool(call, s),
        signal,
        ran,
        (id) => seen.wait(id),
      ),
    };
    const format = context.responseFormat;
    const state: RunState = {
      error: undefined,
      aborted: false,
      finishReason: undefined,
      usage: undefined,
      steps: 0,
      reasoning: new Map(),
    };
    const history = toModelMessages(context.history);
    const cached = applyPromptCache(
      options.promptCache ?? promptCacheFormOf(model),
      context.promptCache,
      model,
      {
        providerOptions: options.providerOptions,
        system: context.systemPrompt,
        messages: [
          ...history,
          ...toModelMessages([
            { role: 'user', content: context.message, ...(context.parts ? { parts: context.parts } : {}) },
          ]),
        ],
        historyLength: history.length,
      },
    );
    try {
      const result = streamText({
        model,
        ...(cached.system === undefined ? {} : { system: cached.system }),
        messages: cached.messages,
        ...(Object.keys(tools).length > 0 ? { tools } : {}),
        stopWhen: stepCountIs(context.maxToolRounds),
        abortSignal: signal,
        // A prompt's own retry policy wins over the runtime's (per-request-retry).
        maxRetries: context.retry?.maxRetries ?? options.maxRetries ?? 2,
        ...(format
          ? {
              output: Output.object({
                schema: jsonSchema(format.jsonSchema as unknown as Parameters<typeof jsonSchema>[0]),
                name: format.name,
              }),
            }
          : {}),
        ...(options.temperature === undefined ? {} : { temperature: options.temperature }),
        ...(options.maxOutputTokens === undefined ? {} : { maxOutputTokens: options.maxOutputTokens }),
        ...(cached.providerOptions === undefined ? {} : { providerOptions: cached.providerOptions }),
        // Errors arrive as `error` parts of the full stream; the default handler would only log them.
        onError: () => undefined,
      });
      for await (const part of result.fullStream) {
        this.#part(part, session, state, atmosphereNames, ran);
        if (part.type === 'tool-call') seen.reached(part.toolCallId);
        if (signal.aborted) break;
      }
    } catch (error) {
      state.error ??= error;
    } finally {
      seen.release();
    }
    if (signal.aborted || state.aborted) {
      session.error(classifyError(state.error, signal.aborted ? signal : abortedSignal()));
      return;
    }
    if (state.error !== undefined) {
      session.error(classifyError(state.error, signal));
      return;
    }
    if (state.finishReason === 'tool-calls' && state.steps >= context.maxToolRounds) {
      session.error(
        aiError(
          'TOO_MANY_TOOL_ROUNDS',
          `The model still asked for tools after ${context.maxToolRounds} rounds; the answer was stopped (option maxToolRounds).`,
        ),
      );
      return;
    }
    if (state.usage) session.usage(state.usage);
    session.complete();
  }

  #part(
    part: TextStreamPart<ToolSet>,
    session: StreamingSession,
    state: RunState,
    atmosphereNames: ReadonlySet<string>,
    ran: ReadonlySet<string>,
  ): void {
    switch (part.type) {
      case 'text-delta':
        if (part.text.length > 0) session.send(part.text);
        return;
      case 'reasoning-start':
        state.reasoning.set(part.id, '');
        return;
      case 'reasoning-delta':
        if (part.text.length === 0) return;
        state.reasoning.set(part.id, (state.reasoning.get(part.id) ?? '') + part.text);
        session.emit({ event: 'reasoning-delta', data: { text: part.text } });
        return;
      case 'reasoning-end':
        session.emit({ event: 'reasoning-complete', data: { text: state.reasoning.get(part.id) ?? '' } });
        state.reasoning.delete(part.id);
        return;
      case 'tool-input-start':
        session.metadata(`${TOOL_CALL_START_KEY}${part.id}`, part.toolName);
        return;
      case 'tool-input-delta':
        session.toolCallDelta(part.id, part.delta);
        return;
      case 'tool-input-end':
        session.metadata(`${TOOL_CALL_END_KEY}${part.id}`, true);
        return;
      case 'tool-call':
        // The endpoint's tools report their own events through runTool (after approval, when asked).
        if (!atmosphereNames.has(part.toolName) && !part.invalid)
          session.emit({
            event: 'tool-start',
            data: { toolName: part.toolName, arguments: asRecord(part.input), toolCallId: part.toolCallId },
          });
        return;
      case 'tool-result':
        if (!atmosphereNames.has(part.toolName))
          session.emit({
            event: 'tool-result',
            data: { toolName: part.toolName, result: part.output ?? null, toolCallId: part.toolCallId },
          });
        return;
      case 'tool-error':
        // Reported already when runTool ran the call; not when the SDK refused it first (unparsable input).
        if (!atmosphereNames.has(part.toolName) || !ran.has(part.toolCallId))
          session.emit({
            event: 'tool-error',
            data: {
              toolName: part.toolName,
              error: part.error instanceof Error ? part.error.message : String(part.error),
              toolCallId: part.toolCallId,
            },
          });
        return;
      case 'tool-approval-request':
        state.error ??= aiError(
          'AI_FAILED',
          `The AI SDK asked for an approval of ${part.toolCall.toolName} outside Atmosphere's approval gate; declare the tool through aiSdkTools() in the endpoint's tools.`,
        );
        return;
      case 'source':
        session.emit({
          event: 'citation',
          data:
            part.sourceType === 'url'
              ? { url: part.url, ...(part.title === undefined ? {} : { title: part.title }), source: part.id }
              : { title: part.title, source: part.id },
        });
        return;
      case 'start-step':
        state.steps++;
        session.emit({ event: 'agent-step', data: { stepName: 'step-start', data: { step: state.steps } } });
        return;
      case 'finish-step':
        session.emit({
          event: 'agent-step',
          data: { stepName: 'step-finish', data: { step: state.steps, finishReason: part.finishReason } },
        });
        return;
      case 'finish':
        state.finishReason = part.finishReason;
        state.usage = toUsage(part.totalUsage);
        return;
      case 'error':
        state.error ??= part.error;
        return;
      case 'abort':
        state.aborted = true;
        return;
      default:
        return;
    }
  }
}

/** Tool calls the full stream's reader has reached; a tool waits for its call before reporting events. */
class Calls {
  readonly #reached = new Set<string>();
  readonly #waiting = new Map<string, () => void>();
  #released = false;

  constructor(signal: AbortSignal) {
    signal.addEventListener('abort', () => this.release(), { once: true });
  }

  reached(id: string): void {
    this.#reached.add(id);
    this.#waiting.get(id)?.();
    this.#waiting.delete(id);
  }

  wait(id: string): Promise<void> {
    if (this.#released || this.#reached.has(id)) return Promise.resolve();
    return new Promise((resolve) => this.#waiting.set(id, resolve));
  }

  /** Lets every waiting tool go (the stream ended or the run was aborted). */
  release(): void {
    this.#released = true;
    for (const resolve of this.#waiting.values()) resolve();
    this.#waiting.clear();
  }
}

function abortedSignal(): AbortSignal {
  return AbortSignal.abort(new Error('the model call was aborted'));
}

/** An Atmosphere agent runtime over an AI SDK language model (see {@link VercelAiRuntime}). */
export function vercelAiRuntime(options: VercelAiRuntimeOptions): VercelAiRuntime {
  return new VercelAiRuntime(options);
}
